"""``vcoind tx drip fund|claim`` and ``vcoind query drip pool|dripped`` (see
chain/cli/__init__.py)."""

from __future__ import annotations

import argparse
import sys

from chain.cli.common import Env, add_tx_flags, broadcast, fmt_vcn, parse_amount_avcn, print_tx
from chain.client import TxResponse, tx_hash
from chain.coins import DISPLAY
from modules.drip.ante import sponsored_claim
from modules.drip.msgs import MsgClaimDrip, MsgFundPool


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("drip", help="the drip pool: fund it, claim a new key's drip")
    sub = p.add_subparsers(dest="drip_cmd", required=True, metavar="COMMAND")
    fund = sub.add_parser(
        "fund",
        help="add VCN to the drip pool",
        description="Move AMOUNT (1.5VCN or 1500000000000000000avcn) from FROM_KEY into "
        "the drip pool, which pays every new key's drip (canary budgets included).",
    )
    fund.add_argument("from_key", metavar="FROM_KEY", help="name of the paying key")
    fund.add_argument("amount", metavar="AMOUNT", help="e.g. 100VCN")
    add_tx_flags(fund, from_flag=False)
    fund.set_defaults(func=run_fund)
    claim = sub.add_parser(
        "claim",
        help="a key takes its one drip from the pool",
        description="KEY claims drip_amount from the pool, once per address. A key the "
        "chain has never seen pays no fee: its claim is sponsored by the pool (fee 0, "
        "signed for account number 0, sequence 0). A key that exists pays the usual fee.",
    )
    claim.add_argument("key", metavar="KEY", help="name of the claiming key")
    add_tx_flags(claim, from_flag=False)
    claim.set_defaults(func=run_claim)


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("drip", help="the drip pool")
    sub = p.add_subparsers(dest="drip_query", required=True, metavar="WHAT")
    pool = sub.add_parser("pool", help="the pool's balance and how many drips it can pay")
    pool.set_defaults(func=run_pool)
    d = sub.add_parser("dripped", help="whether an address has had its drip")
    d.add_argument("address", help="vcoin1… address or key name")
    d.set_defaults(func=run_dripped)


def run_fund(args: argparse.Namespace, env: Env) -> int:
    amount = parse_amount_avcn(args.amount)
    key = env.signing_key(args.from_key, args.passphrase_file)
    return broadcast(env, args, key, [MsgFundPool(depositor=key.bech32, amount=str(amount))])


def run_claim(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.key, args.passphrase_file)
    client = env.client()
    if client.account(key.bech32) is not None:
        return broadcast(env, args, key, [MsgClaimDrip(recipient=key.bech32)])
    raw = sponsored_claim(key, client.chain_id())
    if args.broadcast_mode == "sync":
        r = client.broadcast_tx_sync(raw)
        resp = TxResponse.of(r.get("hash") or tx_hash(raw), 0, r)
    else:
        r = client.broadcast_tx_commit(raw)
        check = r.get("check_tx") or {}
        refused = int(check.get("code") or 0) != 0
        result = check if refused else (r.get("tx_result") or {})
        resp = TxResponse.of(
            r.get("hash") or tx_hash(raw), 0 if refused else r.get("height"), result
        )
    print_tx(env, resp)
    if not resp.ok:
        print(f"error: the chain refused the claim: {resp.log}", file=sys.stderr)
        return 1
    return 0


def run_pool(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("drip", "pool")
    env.emit(
        out,
        lambda: (
            f"pool {out['address']}: {fmt_vcn(int(out['balance']))} {DISPLAY}, "
            f"{out['drips_left']} drips of {fmt_vcn(int(out['drip_amount']))} {DISPLAY} left"
        ),
    )


def run_dripped(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("drip", "dripped", {"address": env.resolve_address(args.address)})
    env.emit(
        out,
        lambda: (
            f"{out['address']}: dripped at height {out['height']}"
            if out["dripped"]
            else f"{out['address']}: no drip yet"
        ),
    )
