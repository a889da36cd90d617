"""``vcoind tx bank send`` and ``vcoind query balance|supply`` (see chain/cli/__init__.py)."""

from __future__ import annotations

import argparse

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from chain.cli.common import Env, add_tx_flags, broadcast, fmt_vcn, parse_amount_avcn
from chain.coins import DENOM, DISPLAY
from modules.bank.msgs import MsgSend


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bank = subparsers.add_parser("bank", help="send VCN", description="Bank module transactions.")
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


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bal = subparsers.add_parser("balance", help="balance of an address, in VCN and avcn")
    bal.add_argument("address", help="vcoin1… address or key name")
    bal.add_argument("--denom", default=DENOM, help=f"denom to show (default {DENOM})")
    bal.set_defaults(func=run_balance)

    sup = subparsers.add_parser("supply", help="total supply of every denom")
    sup.set_defaults(func=run_supply)


def _coin_text(amount: int, denom: str) -> str:
    if denom == DENOM:
        return f"{fmt_vcn(amount)} {DISPLAY} ({amount} {DENOM})"
    return f"{amount} {denom}"


def run_send(args: argparse.Namespace, env: Env) -> int:
    amount = parse_amount_avcn(args.amount)
    to = env.resolve_address(args.to)
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = MsgSend(
        from_address=key.bech32, to_address=to, amount=[Coin(denom=DENOM, amount=str(amount))]
    )
    return broadcast(env, args, key, [msg])


def run_balance(args: argparse.Namespace, env: Env) -> int:
    addr = env.resolve_address(args.address)
    amount = env.client().balance(addr, args.denom)
    env.emit(
        {"address": addr, "denom": args.denom, "amount": str(amount)},
        _coin_text(amount, args.denom),
    )
    return 0


def run_supply(args: argparse.Namespace, env: Env) -> int:
    res = env.client().query("bank", "total_supply")
    supply = res.get("supply") or []
    env.emit(
        res,
        "\n".join(_coin_text(int(c["amount"]), str(c["denom"])) for c in supply) or "(no coins)",
    )
    return 0
