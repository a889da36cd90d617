"""A running node: app + block store + mempool + solo driver + RPC and REST servers.

``Node`` runs any ``BaseApp`` the caller builds; VCoin's node with its app is
``app/node.py``, which also holds ``run_node`` for ``vcoind start``: signal
handling, so that SIGTERM or SIGINT finishes the block in progress, stops the
servers and closes the databases.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from chain.baseapp import BaseApp
from chain.config import NodeConfig
from chain.consensus.blockstore import BlockStore
from chain.consensus.cometbft import AbciServerThread, CometAbciApp, CometMempool
from chain.consensus.eventbus import EventBus
from chain.consensus.mempool import Mempool, MempoolConfig
from chain.consensus.solo import SoloConfig, SoloDriver
from chain.metrics import NodeMetrics
from chain.results import BlockResult, InfoResult, QueryResult, TxResult
from chain.snapshots import SnapshotStore

log = logging.getLogger("vcoin.node")


def _parse_rfc3339_ns(text: str) -> int:
    from datetime import datetime

    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


class ListenError(RuntimeError):
    """A server's listen address cannot be bound."""


def listen(laddr: str, name: str) -> socket.socket:
    """A socket bound to ``laddr`` (``host:port``; ``[::1]:port`` for IPv6) and listening;
    ``ListenError`` naming the setting to change if it cannot be bound.

    It listens at once, before its server runs: a client that connects as soon as another
    of the node's servers answers waits in the backlog until this one serves, never
    refused. CI saw the REST port refuse a connection while the RPC already answered:
    the node builds the REST app (and resumes the chain) after the RPC serves."""
    host, _, port = laddr.rpartition(":")
    host = host.strip("[]")
    change = f"pick another address with --{name}-laddr or {name}_laddr in config.toml"
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, ValueError) as e:
        raise ListenError(f"{name}: cannot listen on {laddr!r} ({e}); {change}") from e
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        held = "another process holds the port: stop it, or " if e.errno == errno.EADDRINUSE else ""
        raise ListenError(f"{name}: cannot listen on {laddr}: {e.strerror}; {held}{change}") from e
    return sock


class Node:
    def __init__(self, cfg: NodeConfig, make_app: Callable[[NodeConfig], BaseApp]) -> None:
        self.cfg = cfg
        if not cfg.genesis_file.exists():
            raise FileNotFoundError(
                f"no genesis at {cfg.genesis_file}; run `vcoind init --home {cfg.home_path}` first"
            )
        self.genesis: dict[str, Any] = json.loads(cfg.genesis_file.read_text())
        try:
            self.app = make_app(cfg)
        except Exception as e:
            if "lock" in str(e).lower():
                raise RuntimeError(
                    f"{cfg.state_db} is in use: another vcoind already runs on this home"
                ) from e
            raise
        self.app.set_snapshots(
            SnapshotStore(
                cfg.snapshot_dir,
                cfg.snapshot_interval,
                cfg.snapshot_keep_recent,
                chain_id=self.chain_id,
            ),
            cfg.min_retain_blocks,
        )
        self.blocks = BlockStore(cfg.block_db)
        self.lock = threading.RLock()
        self.bus = EventBus()
        self.metrics = NodeMetrics()
        max_bytes = int(
            self.genesis.get("consensus_params", {}).get("block", {}).get("max_bytes", 4 << 20)
        )
        self.max_block_bytes = max_bytes
        self.comet = cfg.consensus == "cometbft"
        self.mempool: Mempool | CometMempool
        self.driver: SoloDriver | None = None
        self.abci: AbciServerThread | None = None
        if self.comet:
            self.mempool = CometMempool(cfg.comet_rpc)
            handler = CometAbciApp(self.app, self.blocks, self.lock, on_block=self._on_block)
            self.abci = AbciServerThread(handler, cfg.abci_laddr)
        else:
            self.mempool = Mempool(
                self.app, self.lock, MempoolConfig(cfg.mempool_max_txs, cfg.mempool_max_bytes)
            )
            self.driver = SoloDriver(
                self.app,
                self.blocks,
                self.mempool,
                self.bus,
                self.lock,
                SoloConfig(
                    cfg.block_time_ms,
                    cfg.instant,
                    cfg.create_empty_blocks,
                    max_bytes,
                    cfg.max_block_txs,
                ),
                on_block=self._on_block,
            )
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []
        self.stopped = threading.Event()

    @property
    def chain_id(self) -> str:
        return str(self.genesis["chain_id"])

    # -- chain.nodeview.NodeView: what the servers see -----------------------------
    @property
    def producing(self) -> bool:
        """Solo: the driver makes blocks. CometBFT: the ABCI server is up."""
        if self.abci is not None:
            return self.abci.running
        return self.driver is not None and not self.driver.stopped

    def app_info(self) -> InfoResult:
        with self.lock:
            return self.app.info()

    def app_query(self, path: str, data: bytes, height: int, prove: bool) -> QueryResult:
        with self.lock:
            return self.app.query(path, data, height, prove)

    def custom_query(self, module: str, name: str, req: dict[str, Any]) -> Any:
        with self.lock:
            return self.app.custom_query(module, name, req)

    def simulate(self, raw: bytes) -> TxResult:
        with self.lock:
            return self.app.simulate(raw)

    def _on_block(self, res: BlockResult, seconds: float) -> None:
        self.metrics.block(res, seconds)
        if self.driver is not None:  # CometBFT's mempool is its own to report
            self.metrics.mempool_txs.set(len(self.mempool))
            self.metrics.mempool_bytes.set(self.mempool.size_bytes)
        log.info(
            "committed block",
            extra={
                "height": res.height,
                "txs": len(res.tx_results),
                "app_hash": res.app_hash.hex(),
                "ms": round(seconds * 1000, 1),
            },
        )

    def init_or_resume(self) -> None:
        if self.comet:
            # CometBFT sends InitChain (from its genesis, made by `vcoind genesis
            # cometbft`) and replays what the app missed, after its Info handshake
            self.app.sigverify.start()
            with self.lock:
                info = self.app.info()
            log.info(
                "CometBFT mode: app at height %d, app hash %s; waiting for CometBFT on %s",
                info.last_block_height,
                info.last_block_app_hash.hex(),
                self.cfg.abci_laddr,
            )
            return
        with self.lock:
            if not self.app.store.chain_meta().get("genesis_hash"):
                log.info("initialising chain %s from %s", self.chain_id, self.cfg.genesis_file)
                self.app.init_chain(
                    self.chain_id,
                    self.genesis["app_state"],
                    _parse_rfc3339_ns(self.genesis.get("genesis_time", "1970-01-01T00:00:00Z")),
                    int(self.genesis.get("initial_height", 1)),
                    self.max_block_bytes,
                )
            elif self.app.chain_id != self.chain_id:
                raise RuntimeError(
                    f"the database holds chain {self.app.chain_id!r} "
                    f"but genesis says {self.chain_id!r}"
                )
        self.app.sigverify.start()  # before the first block that wants it
        assert self.driver is not None
        h = self.driver.handshake()
        log.info("node at height %d, app hash %s", h, self.app.info().last_block_app_hash.hex())

    def _serve(self, app: Any, sock: socket.socket, laddr: str, name: str) -> None:
        import uvicorn

        config = uvicorn.Config(app, log_config=None, lifespan="off", ws_ping_interval=20)
        server = uvicorn.Server(config)
        t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
        t.start()
        self._servers.append(server)
        self._threads.append(t)
        log.info("%s listening on http://%s", name, laddr)

    def extend_rest(self, rest: Any) -> None:
        """Add an application's own routes to the REST app (a FastAPI) before it serves."""

    def start(self, serve: bool = True) -> None:
        """Bind the listen addresses (``ListenError`` before anything else starts if
        one cannot be bound), resume the chain, start the servers and the driver.

        CometBFT mode serves REST and ABCI; the node RPC is CometBFT's own."""
        socks: list[socket.socket] = []
        try:
            if serve and not self.comet:
                socks.append(listen(self.cfg.rpc_laddr, "rpc"))
            if serve:
                socks.append(listen(self.cfg.rest_laddr, "rest"))
            self.init_or_resume()
        except BaseException:
            for sk in socks:
                sk.close()
            raise
        if serve:
            from chain.rest.server import build_rest_app
            from chain.rpc.server import build_rpc_app

            if not self.comet:
                self._serve(build_rpc_app(self), socks.pop(0), self.cfg.rpc_laddr, "rpc")
            rest = build_rest_app(self)
            self.extend_rest(rest)
            self._serve(rest, socks[0], self.cfg.rest_laddr, "rest")
        if self.abci is not None:
            self.abci.start()
        if self.driver is not None:
            self.driver.start()

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        log.info("stopping: finishing the current block")
        if self.driver is not None:
            self.driver.stop()
        if self.abci is not None:
            self.abci.stop()
        for s in self._servers:
            s.should_exit = True
        for t in self._threads:
            t.join(10)
        with self.lock:
            height = self.app.info().last_block_height
            self.blocks.close()
            self.app.close()
        self.stopped.set()
        log.info("stopped cleanly at height %d", height)
