"""VCoin's node: ``chain.node.Node`` running the VCoin app, and ``run_node``,
the foreground process of ``vcoind start``.

SIGTERM or SIGINT finishes the block in progress, stops the servers and
closes the databases.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from app.app import App
from chain import node as base
from chain.config import NodeConfig, load_config
from chain.logs import setup_logging

log = logging.getLogger("vcoin.node")


def make_app(cfg: NodeConfig) -> App:
    # py-evm loads on first use (the CLI never needs it); a node loads it now, not
    # inside the block of its first Ethereum tx
    import modules.evm.executor  # noqa: F401

    return App(cfg.state_db, sig_verify_workers=cfg.sig_verify_workers)


class Node(base.Node):
    """A node running the VCoin app; in process for tests, or under ``run_node``.

    Besides the framework's servers it serves the Ethereum JSON-RPC
    (``app/ethrpc/``) on ``jsonrpc_laddr``, and over a websocket with ``eth_subscribe``
    on ``jsonrpc_ws_laddr``, in both consensus modes ("" for none)."""

    app: App

    def __init__(self, cfg: NodeConfig) -> None:
        super().__init__(cfg, make_app)
        # the EVM's call traces, recorded as blocks run, off consensus (modules/evm/tracing.py)
        from modules.evm.keeper import EvmKeeper
        from modules.evm.tracing import TraceStore

        self.traces = TraceStore(cfg.home_path / "data" / "evm_traces", cfg.jsonrpc_trace_blocks)
        keeper = self.app.wiring.keepers["evm"]
        assert isinstance(keeper, EvmKeeper)
        keeper.traces = self.traces

    def stop(self) -> None:
        super().stop()
        self.traces.close()

    def extend_rest(self, rest: Any) -> None:
        """The modules' REST routes (``app/rest/``) and the explorer (``app/explorer/``)."""
        from app import explorer
        from app.rest import modules as rest_modules

        rest_modules.mount(rest, self)
        explorer.mount(rest, self)

    def start(self, serve: bool = True) -> None:
        laddr = self.cfg.jsonrpc_laddr if serve else ""
        ws_laddr = self.cfg.jsonrpc_ws_laddr if serve else ""
        # bound first, so that a taken port stops the node before anything starts
        socks: list[Any] = []
        try:
            sock = base.listen(laddr, "jsonrpc") if laddr else None  # listening already
            socks.append(sock)
            ws_sock = _listen_ws(ws_laddr) if ws_laddr else None
            socks.append(ws_sock)
            super().start(serve)
        except BaseException:
            for s in socks:
                if s is not None:
                    s.close()
            raise
        svc = None
        if sock is not None:
            from app.ethrpc.fasthttp import FastHttpServer
            from app.ethrpc.server import EthRpcService, limits_of

            # its own asyncio HTTP/1.1 server, not uvicorn: see app/ethrpc/fasthttp.py
            svc = EthRpcService(self, limits_of(self))
            fast = FastHttpServer(svc, self.lock)
            self._threads.append(fast.start(sock, "jsonrpc"))
            self._servers.append(fast)  # stop() sets should_exit, then joins the thread
            log.info("jsonrpc listening on http://%s", laddr)
        if ws_sock is not None:
            from app.ethrpc.ws import build_ws_app

            self._serve(build_ws_app(self, svc), ws_sock, ws_laddr, "jsonrpc_ws")


def _listen_ws(laddr: str) -> Any:
    try:
        return base.listen(laddr, "jsonrpc_ws")
    except base.ListenError as e:  # the flag is spelled with dashes
        raise base.ListenError(str(e).replace("--jsonrpc_ws-", "--jsonrpc-ws-")) from e


def run_node(home: Path | str | None = None, overrides: dict[str, Any] | None = None) -> int:
    """Run a node in the foreground until SIGTERM/SIGINT. Returns an exit code."""
    cfg = load_config(home, overrides)
    setup_logging(cfg.log_level, cfg.log_format)
    node = Node(cfg)
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        node.start()
    except BaseException:
        node.stop()  # closes the databases it opened
        raise
    while not done.wait(0.5):
        if not node.producing:
            log.error("block production stopped; shutting down")
            node.stop()
            return 1
    node.stop()
    return 0
