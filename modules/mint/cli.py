"""``vcoind query mint epoch|minted`` (the mint has no transactions)."""

from __future__ import annotations

import argparse

from chain.cli.common import Env, fmt_vcn
from chain.coins import DISPLAY


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("mint", help="the current epoch and coins minted so far")
    sub = p.add_subparsers(dest="mint_query", required=True, metavar="WHAT")
    e = sub.add_parser("epoch", help="the epoch in progress: when it mints, work recorded so far")
    e.set_defaults(func=run_epoch)
    m = sub.add_parser("minted", help="every coin minted since genesis")
    m.set_defaults(func=run_minted)


def run_epoch(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("mint", "epoch", {})
    env.emit(
        out,
        lambda: "\n".join(
            [
                f"epoch {out['epoch']} began at height {out['start_height']}, "
                f"mints at height {out['mints_at_height']}",
                f"{out['total_units']} compute units from {len(out['workers'])} worker(s)",
                *(f"  {w['address']}: {w['units']}" for w in out["workers"]),
            ]
        ),
    )


def run_minted(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("mint", "minted", {})
    env.emit(out, f"{fmt_vcn(int(out['total_minted']))} {DISPLAY} minted since genesis")
