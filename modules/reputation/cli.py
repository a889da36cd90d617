"""``vcoind tx reputation heartbeat`` and ``vcoind query reputation score``."""

from __future__ import annotations

import argparse

from chain.cli.common import Env, add_tx_flags, broadcast
from modules.reputation.msgs import MsgHeartbeat


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("reputation", help="heartbeats that keep a worker's uptime")
    sub = p.add_subparsers(dest="reputation_cmd", required=True, metavar="COMMAND")
    hb = sub.add_parser(
        "heartbeat",
        help="say this worker (or oracle) is online",
        description="Send MsgHeartbeat. One per slot of heartbeat_interval_blocks keeps "
        "uptime at 100 %; only addresses with a worker or oracle bond may send it.",
    )
    add_tx_flags(hb)
    hb.set_defaults(func=run_heartbeat)


def run_heartbeat(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    return broadcast(env, args, key, [MsgHeartbeat(address=key.bech32)])


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("reputation", help="reputation scores")
    sub = p.add_subparsers(dest="reputation_query", required=True, metavar="WHAT")
    s = sub.add_parser("score", help="an address's score and each input of the formula")
    s.add_argument("address", help="vcoin1… address or key name")
    s.set_defaults(func=run_score)


def run_score(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("reputation", "score", {"address": env.resolve_address(args.address)})
    env.emit(
        out,
        lambda: (
            f"score {out['score']} / 100\n"
            f"  results {out['successes']} ok of {out['total']}, "
            f"penalties {out['penalties_bps'] / 100:.2f} points\n"
            f"  stake weight {out['stake_weight_bps'] / 100:.2f} %, "
            f"uptime {out['uptime_bps'] / 100:.2f} %"
        ),
    )
