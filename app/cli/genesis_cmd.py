"""``vcoind genesis``: check a genesis file; export the state of a stopped node as genesis."""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from app.cli.init_cmd import write_json
from chain.cli.common import CliError, Env
from chain.errors import ChainError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("genesis", help="validate or export genesis files")
    g = p.add_subparsers(dest="genesis_cmd", required=True, metavar="COMMAND")

    val = g.add_parser(
        "validate",
        help="check a genesis file by running InitChain on a scratch database",
        description="Check FILE (default $VCOIN_HOME/config/genesis.json): its shape, every "
        "module's genesis validation, a full InitChain on a throwaway database and the "
        "invariants after it. Prints the chain id and the genesis app hash.",
    )
    val.add_argument("file", nargs="?", help="genesis file (default: the home's)")
    val.set_defaults(func=run_validate)

    exp = g.add_parser(
        "export",
        help="write the current state of a stopped node as a genesis document",
        description="Read the home's database at its last committed height and print a "
        "genesis document (the home's genesis with this app_state and initial_height = "
        "height + 1). The node must be stopped: a running node holds the database lock.",
    )
    exp.add_argument("--out", help="write to this file instead of standard output")
    exp.set_defaults(func=run_export)

    cmt = g.add_parser(
        "cometbft",
        help="write the CometBFT genesis of a VCoin genesis (validators from staking)",
        description="Read FILE (default $VCOIN_HOME/config/genesis.json) and write the "
        "genesis a CometBFT node needs (its config/genesis.json): the same document with "
        "`validators` taken from the staking genesis, each bonded `validator` with its "
        "ed25519 consensus_pubkey and its bond in whole VCN as voting power. Every "
        "validator of a network must use the same file.",
    )
    cmt.add_argument("file", nargs="?", help="VCoin genesis file (default: the home's)")
    cmt.add_argument("--out", help="write to this file instead of standard output")
    cmt.set_defaults(func=run_cometbft)


def _time_ns(text: str) -> int:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def check_doc(doc: Any) -> tuple[str, dict[str, Any], int, int]:
    """The fields InitChain needs, or a CliError naming the one that is wrong."""
    if not isinstance(doc, dict):
        raise CliError("a genesis document is a JSON object")
    chain_id = doc.get("chain_id")
    if not isinstance(chain_id, str) or not chain_id or len(chain_id) > 50:
        raise CliError("chain_id must be a non-empty string of at most 50 characters")
    app_state = doc.get("app_state")
    if not isinstance(app_state, dict):
        raise CliError("app_state must be a JSON object with one entry per module")
    try:
        time_ns = _time_ns(str(doc.get("genesis_time") or ""))
    except ValueError as e:
        raise CliError(f"genesis_time must be RFC 3339, e.g. 2026-01-01T00:00:00Z: {e}") from e
    try:
        initial_height = int(doc.get("initial_height") or 1)
    except (TypeError, ValueError) as e:
        raise CliError("initial_height must be a whole number") from e
    if initial_height < 1:
        raise CliError("initial_height must be at least 1")
    return chain_id, app_state, time_ns, initial_height


def read_doc(path: Path) -> Any:
    """The JSON in ``path``, or a CliError saying why it cannot be read."""
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise CliError(f"cannot read {path}: {e}") from e
    except ValueError as e:
        raise CliError(f"{path} is not JSON: {e}") from e


def validate_file(path: Path) -> dict[str, Any]:
    from app.app import App

    doc = read_doc(path)
    chain_id, app_state, time_ns, initial_height = check_doc(doc)
    with tempfile.TemporaryDirectory(prefix="vcoin-genesis-") as tmp:
        app = App(Path(tmp) / "state")
        try:
            app_hash = app.init_chain(chain_id, app_state, time_ns, initial_height)
            broken = app.check_invariants()
        except ChainError as e:
            raise CliError(f"{path} is invalid: {e.log()}") from e
        except (ValueError, KeyError, TypeError) as e:
            raise CliError(f"{path} is invalid: {e}") from e
        finally:
            app.close()
    if broken:
        raise CliError(f"{path} breaks invariants: {'; '.join(broken)}")
    return {"file": str(path), "chain_id": chain_id, "app_hash": app_hash.hex().upper()}


def run_validate(args: argparse.Namespace, env: Env) -> int:
    path = Path(args.file) if args.file else env.home / "config" / "genesis.json"
    res = validate_file(path)
    env.emit(res, f"{path} is valid: chain {res['chain_id']}, genesis app hash {res['app_hash']}")
    return 0


def run_export(args: argparse.Namespace, env: Env) -> int:
    from app.app import App

    db = env.home / "data" / "state"
    if not db.is_dir():
        raise CliError(f"no database at {db}: this home has never run a node")
    try:
        app = App(db, any_format=True)  # a state of an older layout exports too
    except Exception as e:  # rocksdict raises a bare Exception for a held lock
        if "lock" in str(e).lower():
            raise CliError(
                f"{db} is locked: a node is running on this home; stop it, then export"
            ) from e
        raise
    try:
        height = app.info().last_block_height
        app_state = app.export_genesis()
        chain_id = app.chain_id
    finally:
        app.close()
    base_path = env.home / "config" / "genesis.json"
    doc: dict[str, Any] = json.loads(base_path.read_text()) if base_path.exists() else {}
    doc.update(
        {
            "chain_id": chain_id or doc.get("chain_id", ""),
            "initial_height": str(height + 1),
            "app_hash": "",
            "app_state": app_state,
        }
    )
    if args.out:
        write_json(Path(args.out), doc)
        print(f"exported height {height} of chain {doc['chain_id']} to {args.out}")
    else:
        print(json.dumps(doc, indent=2))
    return 0


def cometbft_genesis(doc: dict[str, Any]) -> dict[str, Any]:
    """The CometBFT genesis of a VCoin genesis document: ``validators`` from staking.

    A ``CliError`` when the document is invalid or names no validator (CometBFT
    needs at least one)."""
    import hashlib

    from chain.errors import ChainError
    from modules.staking.validators import encode_pubkey, genesis_validators

    check_doc(doc)
    try:
        vals = genesis_validators(doc["app_state"])
    except ChainError as e:
        raise CliError(f"the staking genesis is invalid: {e.log()}") from e
    if not vals:
        raise CliError(
            "the genesis has no validator: bond at least one account as `validator` with a "
            "consensus_pubkey (the pub_key.value of CometBFT's priv_validator_key.json) in "
            "app_state.staking.bonds"
        )
    out = dict(doc)
    out["validators"] = [
        {
            "address": hashlib.sha256(pk).digest()[:20].hex().upper(),
            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": encode_pubkey(pk)},
            "power": str(power),
            "name": f"validator-{i}",
        }
        for i, (pk, power) in enumerate(vals)
    ]
    return out


def run_cometbft(args: argparse.Namespace, env: Env) -> int:
    path = Path(args.file) if args.file else env.home / "config" / "genesis.json"
    doc = read_doc(path)
    out = cometbft_genesis(doc)
    if args.out:
        write_json(Path(args.out), out)
        print(
            f"wrote the CometBFT genesis of {path} ({len(out['validators'])} validators) "
            f"to {args.out}"
        )
    else:
        print(json.dumps(out, indent=2))
    return 0
