"""The block explorer the node serves at ``/explorer`` on its REST port.

Static files (``static/``: plain HTML, CSS and JavaScript modules, no build step)
and ``/explorer/config.json``, which tells the page where the node's public APIs
are. The page reads only those public APIs, from the browser:

* the node RPC (CometBFT subset: ``status``, ``blockchain``, ``block``,
  ``block_results``, ``tx_search``, ``abci_query`` and ``/websocket`` for live
  blocks); in CometBFT mode, the CometBFT node's RPC (``comet_rpc``);
* Cosmos REST on this same port (bank supply and balances, txs by hash) and the
  modules' REST routes (``/vcoin/<module>/v1/…``), with ``abci_query``
  ``/custom/<module>/<query>`` where a route is missing;
* the Ethereum JSON-RPC (``jsonrpc_laddr``) for EVM blocks, txs, receipts and logs.

The RPC and JSON-RPC answer other origins (CORS), so the page may sit on the REST
port. A listen address on a wildcard host (``0.0.0.0``, ``::``) is reached at
the host the browser loaded the page from.

The page sets the performance mark ``explorer:first-render`` in the frame that
paints its first page with data; ``scripts/bench/explorer.py`` times it on a
100k-block chain (target 1 s, issue 14). The home page's reads are bounded by
the chain's recent blocks, not its length: the last 60 blocks and their results
(two RPC batches), ``tx_search`` over the last 10 blocks and, only when they hold
fewer than 15 txs, the rest of the last 5,000 (the node skips empty blocks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.node import Node

STATIC = Path(__file__).with_name("static")
_WILDCARD = ("", "0.0.0.0", "::", "[::]")


def _endpoint(laddr: str) -> dict[str, Any] | None:
    """``host:port`` as the page needs it: the port, and the host unless a wildcard."""
    if not laddr:
        return None
    host, _, port = laddr.rpartition(":")
    return {"host": "" if host in _WILDCARD else host.strip("[]"), "port": int(port)}


def explorer_config(node: Node) -> dict[str, Any]:
    """What ``/explorer/config.json`` answers: where the page finds the node's APIs."""
    cfg = node.cfg
    rpc: dict[str, Any] | None
    if cfg.consensus == "cometbft":
        rpc = {"url": cfg.comet_rpc.rstrip("/")}
    else:
        rpc = _endpoint(cfg.rpc_laddr)
    return {
        "rpc": rpc,
        "jsonrpc": _endpoint(cfg.jsonrpc_laddr),
        "denom": "avcn",
        "display_denom": "VCN",
        "decimals": 18,
    }


def mount(rest: Any, node: Node) -> None:
    """Serve the explorer on ``rest`` (the node's FastAPI REST app) at ``/explorer``."""
    from fastapi.responses import JSONResponse, RedirectResponse, Response
    from fastapi.staticfiles import StaticFiles

    body = json.dumps(explorer_config(node)).encode()

    def config() -> Response:
        return JSONResponse(json.loads(body), headers={"cache-control": "no-store"})

    def root() -> Response:
        return RedirectResponse("/explorer/", status_code=307)

    rest.add_api_route("/explorer/config.json", config, methods=["GET"], include_in_schema=False)
    rest.add_api_route("/explorer", root, methods=["GET"], include_in_schema=False)

    rest.mount("/explorer", StaticFiles(directory=STATIC, html=True), name="explorer")
