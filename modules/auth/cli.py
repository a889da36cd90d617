"""``vcoind tx params update`` and ``vcoind query account`` (see chain/cli/__init__.py)."""

from __future__ import annotations

import argparse
import json

from chain.cli.common import CliError, Env, add_tx_flags, broadcast
from chain.client import CODE_NOT_FOUND, SDK, QueryFailed
from chain.crypto import from_bech32, to_eth_address
from modules.auth.msgs import MsgUpdateParams


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    params = subparsers.add_parser(
        "params", help="change a module's params (platform authority only)"
    )
    params_sub = params.add_subparsers(dest="params_cmd", required=True, metavar="COMMAND")
    upd = params_sub.add_parser(
        "update",
        help="change some of a module's params (JSON object of the fields to change)",
        description="Send MsgUpdateParams for MODULE. JSON holds the fields to change; they "
        "are merged into the current params read from the node (`vcoind query params "
        "MODULE`), because the chain takes the message as the whole params object and "
        "resets fields it lacks to their defaults. Only the authority named in genesis "
        "may sign it.",
    )
    upd.add_argument("module", help="module name, e.g. auth or bank")
    upd.add_argument(
        "params_json", metavar="JSON", help="fields to change, e.g. '{\"min_gas_price\": 2}'"
    )
    upd.add_argument(
        "--replace",
        action="store_true",
        help="send JSON as the whole params object (missing fields take their defaults)",
    )
    add_tx_flags(upd)
    upd.set_defaults(func=run_params_update)


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    acc = subparsers.add_parser(
        "account", help="account number, sequence and public key of an address"
    )
    acc.add_argument("address", help="vcoin1… or 0x… address, or key name")
    acc.set_defaults(func=run_account)


def run_params_update(args: argparse.Namespace, env: Env) -> int:
    try:
        params = json.loads(args.params_json)
    except ValueError as e:
        raise CliError(f"JSON: {e}") from e
    if not isinstance(params, dict):
        raise CliError("JSON must be an object, e.g. '{\"send_enabled\": true}'")
    if not args.replace:
        current = env.client().query(args.module, "params")
        if not isinstance(current, dict):
            raise CliError(f"module {args.module} returned no params object to update")
        params = {**current, **params}
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = MsgUpdateParams(
        authority=key.bech32,
        module=args.module,
        params_json=json.dumps(params, sort_keys=True, separators=(",", ":")),
    )
    return broadcast(env, args, key, [msg])


def run_account(args: argparse.Namespace, env: Env) -> int:
    addr = env.resolve_address(args.address)
    try:
        d = env.client().query("auth", "account", {"address": addr})
    except QueryFailed as e:
        if e.codespace == SDK and e.code == CODE_NOT_FOUND:
            raise CliError(
                f"account {addr} does not exist on chain: it has never received funds"
            ) from e
        raise
    hex_address = to_eth_address(from_bech32(str(d["address"])))
    key_type = d.get("pub_key_type")
    env.emit(
        {
            "address": d["address"],
            "hex_address": hex_address,
            "account_number": int(d["account_number"]),
            "sequence": int(d["sequence"]),
            "pub_key": d.get("pub_key"),
            "pub_key_type": key_type,
        },
        f"address:        {d['address']}\n"
        f"                {hex_address}\n"
        f"account_number: {d['account_number']}\nsequence:       {d['sequence']}\n"
        f"pub_key:        {d.get('pub_key') or '(none yet)'}"
        + (f" ({key_type})" if key_type else ""),
    )
    return 0
