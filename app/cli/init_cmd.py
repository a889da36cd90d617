"""``vcoind init``: make a home folder with genesis, node config and (optionally) dev keys."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from chain.cli.common import CliError, Env
from chain.config import write_default_config
from chain.keystore import KeyExists
from genesis import devnet


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create the home folder: genesis, config.toml and, with --dev-keys, dev keys",
        description="Create $VCOIN_HOME/config/genesis.json (the devnet genesis: the platform "
        "authority and funded dev accounts platform, alice, bob, worker1-3, oracle1-2, faucet), "
        "a commented config/config.toml and the data folder. Then run `vcoind start`.",
    )
    p.add_argument(
        "--chain-id", default=devnet.CHAIN_ID, help=f"chain id (default {devnet.CHAIN_ID})"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing genesis.json and config.toml (the data folder is kept)",
    )
    p.add_argument(
        "--dev-keys",
        action="store_true",
        help="also put the devnet dev keys in the keystore, UNENCRYPTED (test backend): "
        "their seeds are public, they are for local networks only",
    )
    p.set_defaults(func=run_init)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def run_init(args: argparse.Namespace, env: Env) -> int:
    home = env.home
    genesis_path = home / "config" / "genesis.json"
    config_path = home / "config" / "config.toml"
    if genesis_path.exists() and not args.overwrite:
        raise CliError(
            f"{genesis_path} already exists; keep it (just run `vcoind start`) "
            "or pass --overwrite to replace it"
        )
    doc = devnet.genesis_doc(chain_id=args.chain_id)
    _check_genesis(doc)
    genesis_path.parent.mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(parents=True, exist_ok=True)
    write_json(genesis_path, doc)
    if args.overwrite or not config_path.exists():
        write_default_config(home)
    notes: list[str] = []
    if args.overwrite and (home / "data" / "state").exists():
        notes.append(
            f"note: {home / 'data'} still holds the old chain; if the genesis changed, "
            "delete that folder before `vcoind start`"
        )
    imported = _import_dev_keys(env, args.overwrite) if args.dev_keys else []
    out = {
        "home": str(home),
        "chain_id": doc["chain_id"],
        "genesis": str(genesis_path),
        "config": str(config_path),
        "dev_keys": imported,
    }

    def text() -> str:
        lines = [
            f"initialised {home} for chain {doc['chain_id']}",
            f"  genesis: {genesis_path}",
            f"  config:  {config_path}",
        ]
        if imported:
            lines.append(f"  dev keys (UNENCRYPTED test backend): {', '.join(imported)}")
        lines += notes
        lines.append(f"start the node with: vcoind start --home {home}")
        return "\n".join(lines)

    env.emit(out, text)
    return 0


def _check_genesis(doc: dict[str, Any]) -> None:
    """Validate the app state as the node will, so init never writes a genesis start rejects."""
    import tempfile

    from app.app import App

    with tempfile.TemporaryDirectory(prefix="vcoin-genesis-") as tmp:
        app = App(Path(tmp) / "state")
        try:
            app.validate_genesis(doc["app_state"])
        finally:
            app.close()


def _import_dev_keys(env: Env, overwrite: bool) -> list[str]:
    ks = env.keystore()
    names = []
    for name in devnet.DEV_ACCOUNTS:
        key = devnet.dev_key(name)
        if ks.exists(name) and not overwrite:
            if ks.show(name).address == key.bech32:
                names.append(name)
                continue
            raise KeyExists(
                f"the keystore already has a different key named {name!r}; "
                "rename it or pass --overwrite"
            )
        ks.save(name, key, None, "test", overwrite=True)
        names.append(name)
    return names
