"""``vcoind tx staking …`` and ``vcoind query staking …`` (see chain/cli/__init__.py)."""

from __future__ import annotations

import argparse
import base64
import binascii
from typing import Any

from chain.cli.common import (
    CliError,
    Env,
    add_tx_flags,
    broadcast,
    fmt_vcn,
    parse_amount_avcn,
    parse_hex,
)
from chain.coins import DENOM, DISPLAY
from modules.staking.keys import ROLES
from modules.staking.msgs import Coin, MsgBond, MsgUnbond, MsgUnjail


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("staking", help="bond, unbond and unjail as worker/oracle/validator")
    sub = p.add_subparsers(dest="staking_cmd", required=True, metavar="COMMAND")

    bond = sub.add_parser(
        "bond",
        help="bond VCN in a role",
        description="Move AMOUNT from your balance into your bond as ROLE. The bond after "
        "this must reach the role's minimum (`vcoind query params staking`). An oracle's "
        "first bond registers the ed25519 key that signs its attestations (--ed25519-pubkey); "
        "a validator's, its CometBFT consensus key (--consensus-pubkey).",
    )
    bond.add_argument("role", choices=ROLES)
    bond.add_argument("amount", metavar="AMOUNT", help="e.g. 1000VCN")
    bond.add_argument("--ed25519-pubkey", help="oracles: the 32-byte public key, hex")
    bond.add_argument(
        "--consensus-pubkey",
        help="validators: the ed25519 consensus key, base64 (pub_key.value in "
        "CometBFT's priv_validator_key.json)",
    )
    add_tx_flags(bond)
    bond.set_defaults(func=run_bond)

    unbond = sub.add_parser(
        "unbond",
        help="start unbonding VCN from a role",
        description="Move AMOUNT of your ROLE bond to the unbonding queue. The coins return "
        "after the unbonding period (param unbonding_blocks) and can be slashed until then.",
    )
    unbond.add_argument("role", choices=ROLES)
    unbond.add_argument("amount", metavar="AMOUNT", help="e.g. 500VCN")
    add_tx_flags(unbond)
    unbond.set_defaults(func=run_unbond)

    unjail = sub.add_parser(
        "unjail",
        help="clear a jail record once its end height has passed",
        description="Clear your jail in ROLE. Refused before the jail's end height "
        "(`vcoind query staking bond ADDRESS ROLE` shows it) and for tombstoned addresses.",
    )
    unjail.add_argument("role", choices=ROLES)
    add_tx_flags(unjail)
    unjail.set_defaults(func=run_unjail)


def _coin(args: argparse.Namespace) -> Coin:
    return Coin(denom=DENOM, amount=str(parse_amount_avcn(args.amount)))


def run_bond(args: argparse.Namespace, env: Env) -> int:
    pubkey = parse_hex(args.ed25519_pubkey, "--ed25519-pubkey") if args.ed25519_pubkey else b""
    cons = _consensus_pubkey(args.consensus_pubkey) if args.consensus_pubkey else b""
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = MsgBond(
        address=key.bech32,
        role=args.role,
        amount=_coin(args),
        ed25519_pubkey=pubkey,
        consensus_pubkey=cons,
    )
    return broadcast(env, args, key, [msg])


def _consensus_pubkey(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CliError(f"--consensus-pubkey must be base64: {e}") from e
    if len(raw) != 32:
        raise CliError(f"--consensus-pubkey must be 32 bytes, got {len(raw)}")
    return raw


def run_unbond(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    return broadcast(
        env, args, key, [MsgUnbond(address=key.bech32, role=args.role, amount=_coin(args))]
    )


def run_unjail(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    return broadcast(env, args, key, [MsgUnjail(address=key.bech32, role=args.role)])


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("staking", help="bonds, jails, active sets and the bonded pool")
    sub = p.add_subparsers(dest="staking_query", required=True, metavar="WHAT")
    b = sub.add_parser("bond", help="an address's bond, jail, tombstone and unbonding entries")
    b.add_argument("address", help="vcoin1… address or key name")
    b.add_argument("role", nargs="?", choices=ROLES, help="one role (default: all)")
    b.set_defaults(func=run_query_bond)
    a = sub.add_parser("active-set", help="addresses active in a role, sorted")
    a.add_argument("role", choices=ROLES)
    a.set_defaults(func=run_query_active)
    pool = sub.add_parser("pool", help="coins bonded per role and unbonding")
    pool.set_defaults(func=run_query_pool)


def _bond_text(b: dict[str, Any]) -> str:
    state = "tombstoned" if b["tombstoned"] else "active" if b["active"] else "inactive"
    lines = [
        f"{b['role']}: {fmt_vcn(int(b['bonded']))} {DISPLAY} bonded ({state}; minimum "
        f"{fmt_vcn(int(b['min_bond']))} {DISPLAY})"
    ]
    if int(b["jailed_until"]):
        lines.append(f"  jailed until height {b['jailed_until']}")
    for e in b["unbonding"]:
        lines.append(
            f"  unbonding {fmt_vcn(int(e['amount']))} {DISPLAY} until height "
            f"{e['completion_height']}"
        )
    if b.get("ed25519_pubkey"):
        lines.append(f"  ed25519 key {b['ed25519_pubkey']}")
    return "\n".join(lines)


def run_query_bond(args: argparse.Namespace, env: Env) -> None:
    addr = env.resolve_address(args.address)
    if args.role:
        out = env.client().query("staking", "bond", {"address": addr, "role": args.role})
        env.emit(out, lambda: _bond_text(out))
    else:
        out = env.client().query("staking", "bonds", {"address": addr})
        env.emit(out, lambda: "\n".join(_bond_text(b) for b in out["bonds"]))


def run_query_active(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("staking", "active_set", {"role": args.role})
    env.emit(
        out,
        lambda: "\n".join(
            [
                f"{len(out['addresses'])} active {args.role}(s), "
                f"{fmt_vcn(int(out['total_bonded']))} {DISPLAY} bonded",
                *out["addresses"],
            ]
        ),
    )


def run_query_pool(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("staking", "pool", {})
    env.emit(
        out,
        lambda: "\n".join(
            [f"{r}: {fmt_vcn(int(n))} {DISPLAY}" for r, n in sorted(out["bonded"].items())]
            + [f"unbonding: {fmt_vcn(int(out['unbonding']))} {DISPLAY}"]
        ),
    )
