"""``vcoind query``: read chain state and blocks from the node."""

from __future__ import annotations

import argparse
import base64
import json
from typing import Any

from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxBody, TxRaw

from app.cli import training_cmd
from app.cli.plugins import register_plugins
from chain.cli.common import CliError, Env


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "query",
        aliases=["q"],
        help="read accounts, balances, blocks, txs and params from the node",
        description="Query the node over its RPC (--node). State queries read the last "
        "committed block.",
    )
    q = p.add_subparsers(dest="query_cmd", required=True, metavar="WHAT")

    blk = q.add_parser("block", help="a block by height (default: the latest)")
    blk.add_argument("height", nargs="?", type=int, help="block height")
    blk.set_defaults(func=run_block)

    tx = q.add_parser("tx", help="a transaction by hash: its height, result code, log and events")
    tx.add_argument("hash", help="tx hash, hex")
    tx.set_defaults(func=run_tx)

    par = q.add_parser("params", help="a module's current params")
    par.add_argument("module", help="module name, e.g. auth or bank")
    par.set_defaults(func=run_params)

    cus = q.add_parser(
        "custom",
        help="any module query: /custom/MODULE/NAME with a JSON request",
        description="Run the app query /custom/MODULE/NAME with the JSON request body and "
        "print the JSON answer, e.g. `vcoind query custom bank all_balances "
        '\'{"address": "vcoin1…"}\'`.',
    )
    cus.add_argument("module", help="module name")
    cus.add_argument("name", help="query name")
    cus.add_argument("request", nargs="?", default="{}", help="JSON request (default {})")
    cus.set_defaults(func=run_custom)

    register_plugins(q, "register_query")
    training_cmd.register_query(q)  # writes the peft folder with compute/ code


def run_block(args: argparse.Namespace, env: Env) -> int:
    res = env.client().block(args.height)

    def text() -> str:
        header = res.get("block", {}).get("header", {})
        txs = res.get("block", {}).get("data", {}).get("txs") or []
        return "\n".join(
            [
                f"height:   {header.get('height')}",
                f"time:     {header.get('time')}",
                f"hash:     {res.get('block_id', {}).get('hash')}",
                f"chain_id: {header.get('chain_id')}",
                f"app_hash: {header.get('app_hash')}",
                f"txs:      {len(txs)}",
            ]
        )

    env.emit(res, text)
    return 0


def _msg_types(tx_b64: str) -> list[str]:
    try:
        raw = TxRaw.FromString(base64.b64decode(tx_b64))
        return [m.type_url for m in TxBody.FromString(raw.body_bytes).messages]
    except Exception:  # an Ethereum or foreign tx: show no message list
        return []


def run_tx(args: argparse.Namespace, env: Env) -> int:
    res = env.client().tx(args.hash)

    def text() -> str:
        r: dict[str, Any] = res.get("tx_result") or {}
        lines = [
            f"txhash:   {res.get('hash')}",
            f"height:   {res.get('height')}",
            f"code:     {r.get('code', 0)}"
            + (f" ({r['codespace']})" if r.get("codespace") else ""),
        ]
        if r.get("log"):
            lines.append(f"log:      {r['log']}")
        lines.append(f"gas:      {r.get('gas_used')} used of {r.get('gas_wanted')}")
        msgs = _msg_types(str(res.get("tx") or ""))
        if msgs:
            lines.append(f"messages: {', '.join(msgs)}")
        for e in r.get("events") or []:
            attrs = ", ".join(f"{a.get('key')}={a.get('value')}" for a in e.get("attributes") or [])
            lines.append(f"event:    {e.get('type')} {attrs}")
        return "\n".join(lines)

    env.emit(res, text)
    return 0


def run_params(args: argparse.Namespace, env: Env) -> int:
    res = env.client().query(args.module, "params")
    env.emit(res, json.dumps(res, indent=2, sort_keys=True))
    return 0


def run_custom(args: argparse.Namespace, env: Env) -> int:
    try:
        req = json.loads(args.request)
    except ValueError as e:
        raise CliError(f"request is not JSON: {e}") from e
    if not isinstance(req, dict):
        raise CliError("request must be a JSON object")
    res = env.client().query(args.module, args.name, req)
    env.emit(res, json.dumps(res, indent=2, sort_keys=True))
    return 0
