"""``vcoind tx``: sign and send transactions (bank send, params update, module plugins)."""

from __future__ import annotations

import argparse
import json

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from chain.cli.common import CliError, Env, add_tx_flags, broadcast, parse_amount_avcn
from chain.cli.plugins import register_plugins
from chain.coins import DENOM
from modules.auth.msgs import MsgUpdateParams
from modules.bank.msgs import MsgSend


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tx",
        help="sign a transaction with a keystore key and send it to the node",
        description="Build, sign (SIGN_MODE_DIRECT) and broadcast a transaction. The account "
        "number and sequence come from the node; the fee defaults to gas × min gas price.",
    )
    tx = p.add_subparsers(dest="tx_module", required=True, metavar="MODULE")

    bank = tx.add_parser("bank", help="send VCN", description="Bank module transactions.")
    bank_sub = bank.add_subparsers(dest="bank_cmd", required=True, metavar="COMMAND")
    send = bank_sub.add_parser(
        "send",
        help="send VCN from one of your keys to an address",
        description="Send AMOUNT from key FROM_KEY to TO_ADDR. AMOUNT reads 1.5VCN or "
        "1500000000000000000avcn (1 VCN = 10^18 avcn). TO_ADDR is a vcoin1… address or the "
        "name of a key in the keystore. Prints the tx hash, height, code and log; exits "
        "non-zero with the chain's message if the tx is refused.",
    )
    send.add_argument("from_key", metavar="FROM_KEY", help="name of the sending key")
    send.add_argument("to", metavar="TO_ADDR", help="recipient address (or key name)")
    send.add_argument("amount", metavar="AMOUNT", help="e.g. 1.5VCN or 1000avcn")
    add_tx_flags(send, from_flag=False)
    send.set_defaults(func=run_send)

    params = tx.add_parser("params", help="change a module's params (platform authority only)")
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

    register_plugins(tx, "register_tx")


def run_send(args: argparse.Namespace, env: Env) -> int:
    amount = parse_amount_avcn(args.amount)
    to = env.resolve_address(args.to)
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = MsgSend(
        from_address=key.bech32, to_address=to, amount=[Coin(denom=DENOM, amount=str(amount))]
    )
    return broadcast(env, args, key, [msg])


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
