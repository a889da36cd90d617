"""``vcoind start``: run the node in the foreground."""

from __future__ import annotations

import argparse
import re
from typing import Any

from chain.cli.common import CliError, Env


def parse_duration_ms(text: str) -> int:
    """'1s', '500ms', '0.25s' or a bare number of seconds -> milliseconds."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"cannot read {text!r} as a duration; write e.g. 1s or 500ms"
        )
    value = float(m.group(1))
    ms = round(value if m.group(2) == "ms" else value * 1000)
    if ms < 10:
        raise argparse.ArgumentTypeError(f"block time {text!r} is under 10ms")
    return ms


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "start",
        help="run the node (solo consensus, node RPC and REST) in the foreground",
        description="Run the node on the home folder made by `vcoind init`: one validator "
        "producing blocks, the CometBFT node RPC, the Cosmos REST API and the Ethereum "
        "JSON-RPC. With "
        "--consensus cometbft the node makes no blocks itself: it serves ABCI on "
        "--abci-laddr to a CometBFT node (its config.toml: proxy_app = "
        '"tcp://127.0.0.1:26658"; its genesis from `vcoind genesis cometbft`), which '
        "runs consensus and the node RPC, and REST sends transactions to --comet-rpc. "
        "Settings come from config/config.toml, then VCOIN_* env vars, then these flags. "
        "Ctrl-C or SIGTERM finishes the current block and stops; starting again resumes "
        "the chain.",
    )
    p.add_argument(
        "--consensus",
        choices=("solo", "cometbft"),
        help="solo (default): this node makes the blocks; cometbft: a CometBFT node does",
    )
    p.add_argument(
        "--abci-laddr",
        metavar="HOST:PORT",
        help="ABCI listen address in CometBFT mode (default 127.0.0.1:26658)",
    )
    p.add_argument(
        "--comet-rpc",
        metavar="URL",
        help="the CometBFT node's RPC in CometBFT mode (default http://127.0.0.1:26657)",
    )
    p.add_argument(
        "--block-time",
        type=parse_duration_ms,
        metavar="DURATION",
        help="time between blocks, e.g. 1s or 200ms (config block_time_ms; default 1s)",
    )
    p.add_argument(
        "--instant",
        action="store_true",
        default=None,
        help="make a block as soon as transactions arrive (tests and demos)",
    )
    p.add_argument(
        "--rpc-laddr", metavar="HOST:PORT", help="node RPC listen address (default 127.0.0.1:26657)"
    )
    p.add_argument(
        "--rest-laddr", metavar="HOST:PORT", help="REST API listen address (default 127.0.0.1:1317)"
    )
    p.add_argument(
        "--jsonrpc-laddr",
        metavar="HOST:PORT",
        help='Ethereum JSON-RPC listen address (default 127.0.0.1:8545; "" for none)',
    )
    p.add_argument(
        "--jsonrpc-ws-laddr",
        metavar="HOST:PORT",
        help='Ethereum JSON-RPC websocket listen address (default 127.0.0.1:8546; "" for none)',
    )
    p.add_argument(
        "--sig-verify-workers",
        type=int,
        metavar="N",
        help="helper processes checking a large block's signatures while it executes "
        "(0: none; default 1)",
    )
    p.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default info"
    )
    p.add_argument(
        "--log-format", choices=("json", "text"), help="json lines (default) or text for people"
    )
    p.set_defaults(func=run_start)


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """Flags given on the command line, under their config.toml names."""
    pairs = {
        "consensus": args.consensus,
        "abci_laddr": args.abci_laddr,
        "comet_rpc": args.comet_rpc,
        "block_time_ms": args.block_time,
        "instant": args.instant,
        "rpc_laddr": args.rpc_laddr,
        "rest_laddr": args.rest_laddr,
        "jsonrpc_laddr": args.jsonrpc_laddr,
        "jsonrpc_ws_laddr": args.jsonrpc_ws_laddr,
        "sig_verify_workers": args.sig_verify_workers,
        "log_level": args.log_level,
        "log_format": args.log_format,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def run_start(args: argparse.Namespace, env: Env) -> int:
    if not (env.home / "config" / "genesis.json").exists():
        raise CliError(f"no genesis in {env.home / 'config'}; run `vcoind init --home {env.home}`")
    try:
        # Imported here so the rest of the CLI works without the node's server stack.
        from app.node import run_node
    except ImportError as e:
        raise CliError(f"this build has no node runner (app.node): {e}") from e
    try:
        return run_node(env.home, overrides_of(args))
    except ImportError as e:
        raise CliError(f"this build lacks part of the node: {e}") from e
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        raise CliError(str(e)) from e
