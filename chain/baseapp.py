"""The base application: the ABCI 2.0 method set over layered state.

It knows no module: the app (``app/app.py``) hands it the modules in order
and the ante handler; this file runs them.

State has three layers:

* committed state in RocksDB (``Store``), which queries read;
* the FinalizeBlock overlay, staged in memory and persisted only by Commit;
* the CheckTx overlay, on top of committed state, reset at every Commit, so
  CheckTx sees pending sequences of txs already in the mempool.

The methods are called in CometBFT's order: InitChain once; per block
PrepareProposal (proposer) / ProcessProposal, FinalizeBlock, Commit; CheckTx
and Query at any time. ``abci/`` translates protobuf to these calls; the solo
driver calls them directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chain import execute
from chain.ante import AnteHandler, TxRules
from chain.bounded import load_json
from chain.context import BlockInfo, Ctx, Mode
from chain.errors import ChainError, ErrInvalidRequest, ErrNotFound, ErrUnknownRequest
from chain.foreign import ForeignTxs
from chain.kv import MultiStore
from chain.module import Module, MsgSpec
from chain.results import BlockResult, InfoResult, PendingBlock, QueryResult, TxResult
from chain.sigverify import SigVerifier
from chain.snapshots import (
    FORMAT,
    ApplyOutcome,
    ApplyResult,
    OfferResult,
    Restore,
    SnapshotError,
    SnapshotInfo,
    SnapshotStore,
    parse_metadata,
)
from chain.store import ModuleKV, Store, app_hash_of
from chain.valset import NO_INPUTS, ConsensusInputs, ValidatorUpdate
from chain.version import VERSION

log = logging.getLogger("vcoin.app")
MAX_QUERY_BYTES = 65_536
# CometBFT's own ceiling on a block (types.MaxBlockSizeBytes), which consensus
# params' block.max_bytes = -1 stands for; also the limit of a chain whose
# genesis names none.
MAX_BLOCK_BYTES = 104_857_600


def block_bytes_limit(max_bytes: int | None) -> int:
    """Consensus params' block.max_bytes as a byte limit (-1, 0 or None: CometBFT's ceiling)."""
    if max_bytes is None or max_bytes <= 0:
        return MAX_BLOCK_BYTES
    return min(int(max_bytes), MAX_BLOCK_BYTES)


class BaseApp:
    def __init__(
        self,
        db_path: str | Path,
        modules: list[Module],
        ante: AnteHandler,
        any_format: bool = False,
        sig_verify_workers: int = 0,
    ) -> None:
        """``modules``: in the order their genesis and block hooks run.
        ``ante``: the checks every tx passes before its messages.
        ``any_format``: only to export the state of a database of an older layout.
        ``sig_verify_workers``: helper processes that check the signatures of a
        large block while it executes (chain/sigverify.py); the node uses 1."""
        self.store = Store(db_path, any_format)
        self.sigverify = SigVerifier(sig_verify_workers)
        self.ante = ante
        self.modules: list[Module] = modules
        self.routes: dict[str, MsgSpec] = {}
        for m in self.modules:
            for spec in m.msgs:
                if spec.type_url in self.routes:
                    raise ValueError(f"message {spec.type_url} registered twice")
                self.routes[spec.type_url] = spec
        foreign = [m.foreign_txs for m in self.modules if m.foreign_txs is not None]
        if len(foreign) > 1:
            raise ValueError("only one module may take txs that are not Cosmos TxRaws")
        self.foreign: ForeignTxs | None = foreign[0] if foreign else None
        if self.foreign is not None and self.foreign.prepass():
            self.sigverify.warm.append(self.foreign.prepass())
        self._pending: PendingBlock | None = None
        # the rules and txs of the last PrepareProposal, all passing check_stateless
        self._proposed: tuple[TxRules | None, frozenset[bytes]] = (None, frozenset())
        # valid txs the last PrepareProposal left for a later block (its gas was full)
        self.deferred: frozenset[bytes] = frozenset()
        self._check: Ctx | None = None
        self._views: tuple[list[str], dict[str, ModuleKV]] | None = None  # see _committed
        meta = self.store.chain_meta()
        self.chain_id: str = str(meta.get("chain_id", ""))
        self.last_block_time_ns: int = int(str(meta.get("last_block_time_ns", 0)))
        # state sync (chain/snapshots.py): none until the node hands a store
        self.snapshots: SnapshotStore | None = None
        self.min_retain_blocks = 0
        self._restore: Restore | None = None

    # -- helpers -------------------------------------------------------------
    def module_names(self) -> list[str]:
        return sorted(m.name for m in self.modules)

    def _committed(self) -> MultiStore:
        # The modules' views of the last commit are stateless (they read the store's
        # current state), so one set serves every context; MultiStore only reads it.
        names = self.module_names()
        views = self._views
        if views is None or views[0] != names:
            views = self._views = (names, {n: self.store.module_kv(n) for n in names})
        return MultiStore(views[1])

    def _ctx(self, mode: Mode, height: int, time_ns: int) -> Ctx:
        return Ctx(self._committed(), BlockInfo(self.chain_id, height, time_ns), mode)

    def query_ctx(self) -> Ctx:
        """A read-only context over the last commit."""
        return self._ctx(Mode.QUERY, self.store.height(), self.last_block_time_ns)

    def check_ctx(self) -> Ctx:
        if self._check is None:
            self._check = self._ctx(Mode.CHECK, self.store.height() + 1, self.last_block_time_ns)
        return self._check

    def _stage(self, ctx: Ctx, height: int, time_ns: int) -> PendingBlock:
        """Fold the overlay's changes into each module's Merkle tree, without writing."""
        changes = {n: dict(c) for n, c in ctx.store.changes().items()}
        roots = {n: self.store.root(n) for n in self.module_names()}
        nodes: dict[str, dict[bytes, bytes | None]] = {}
        for name, kvs in changes.items():
            roots[name], nodes[name] = self.store.tree(name).update(kvs.items())
        return PendingBlock(height, app_hash_of(roots), changes, nodes, roots, time_ns)

    def _persist(self, p: PendingBlock, extra_meta: Mapping[str, Any] | None = None) -> None:
        meta = {"chain_id": self.chain_id, "last_block_time_ns": p.block_time_ns}
        meta.update(self.store.chain_meta())
        meta.update({"chain_id": self.chain_id, "last_block_time_ns": p.block_time_ns})
        if extra_meta:
            meta.update(extra_meta)
        self.store.commit(p.height, p.app_hash, p.changes, p.node_writes, p.roots, meta)
        self.last_block_time_ns = p.block_time_ns
        self._check = None

    # -- ABCI: Info, InitChain ------------------------------------------------
    def info(self) -> InfoResult:
        """Exactly what was committed: CometBFT replays blocks from there."""
        return InfoResult(self.store.height(), self.store.app_hash(), VERSION)

    def init_chain(
        self,
        chain_id: str,
        app_state: Mapping[str, Any],
        time_ns: int = 0,
        initial_height: int = 1,
        max_block_bytes: int | None = None,
    ) -> bytes:
        """Run every module's genesis and commit it at height ``initial_height - 1``.

        ``max_block_bytes``: consensus params' block.max_bytes, kept in state so
        that every node's ProcessProposal holds a proposal to the same limit.

        Called again after a crash before the first block, it finds the same
        genesis committed and returns its app hash.
        """
        genesis_hash = hashlib.sha256(
            json.dumps({"chain_id": chain_id, "app_state": app_state}, sort_keys=True).encode()
        ).hexdigest()
        meta = self.store.chain_meta()
        if meta.get("genesis_hash"):
            if meta["genesis_hash"] != genesis_hash:
                raise ValueError("this database holds another chain; use a fresh home folder")
            return self.store.app_hash()
        self.validate_genesis(app_state)
        self.chain_id = chain_id
        ctx = Ctx(self._committed(), BlockInfo(chain_id, initial_height - 1, time_ns), Mode.GENESIS)
        for m in self.modules:
            m.init_genesis(ctx, dict(app_state.get(m.name) or m.default_genesis()))
        pending = self._stage(ctx, initial_height - 1, time_ns)
        limit = block_bytes_limit(max_block_bytes)
        self._persist(
            pending,
            {
                "genesis_hash": genesis_hash,
                "initial_height": initial_height,
                "max_block_bytes": limit,
            },
        )
        return pending.app_hash

    def validator_set(self) -> list[ValidatorUpdate]:
        """The validator set of the last commit, sorted by public key (InitChain's answer)."""
        ctx = self.query_ctx()
        vals: dict[bytes, int] = {}
        for m in self.modules:
            if m.validator_set is not None:
                vals.update((v.pubkey, v.power) for v in m.validator_set(ctx))
        return [ValidatorUpdate(k, vals[k]) for k in sorted(vals)]

    def max_block_bytes(self) -> int:
        """The block size limit genesis set (CometBFT's ceiling when it set none)."""
        return block_bytes_limit(int(str(self.store.chain_meta().get("max_block_bytes", 0))))

    def validate_genesis(self, app_state: Mapping[str, Any]) -> None:
        unknown = set(app_state) - {m.name for m in self.modules}
        if unknown:
            raise ErrInvalidRequest(f"genesis has unknown modules: {sorted(unknown)}")
        for m in self.modules:
            m.validate_genesis(dict(app_state.get(m.name) or m.default_genesis()))

    def export_genesis(self) -> dict[str, Any]:
        ctx = self.query_ctx()
        return {m.name: m.export_genesis(ctx) for m in self.modules}

    def default_genesis(self) -> dict[str, Any]:
        return {m.name: m.default_genesis() for m in self.modules}

    # -- ABCI: mempool connection ----------------------------------------------
    def check_tx(self, raw: bytes, recheck: bool = False) -> TxResult:
        """Validate a tx against the pending state; on success its effects stay
        in the CheckTx overlay so the next tx from the same sender sees them."""
        ctx = self.check_ctx()
        if recheck:
            ctx = Ctx(ctx.store, ctx.block, Mode.RECHECK)
        return execute.apply_tx(ctx, raw, self.routes, self.ante, foreign=self.foreign)

    def simulate(self, raw: bytes, skip_sig_if_empty: bool = True) -> TxResult:
        """Run a tx on a throwaway branch of the pending state and report gas used."""
        base = self.check_ctx()
        ctx = Ctx(base.store.branch(), base.block, Mode.SIMULATE)
        max_gas = self.ante.rules(ctx).limits.max_tx_gas
        return execute.apply_tx(
            ctx,
            raw,
            self.routes,
            self.ante,
            verify_sig=False,
            gas_limit_override=max_gas,
            foreign=self.foreign,
        )

    # -- ABCI: consensus connection --------------------------------------------
    def prepare_proposal(
        self, txs: list[bytes], max_tx_bytes: int, against_state: bool = False
    ) -> list[bytes]:
        """Take mempool txs in order up to the byte limit, dropping any that CheckTx
        would refuse without looking at state (a poison tx never reaches a block).

        ``against_state`` (CometBFT's proposals): also run each kept tx, in order,
        on a throwaway branch of the committed state as CheckTx would (its
        signature was checked when it entered this node's mempool), and drop
        those that became invalid since: a spent sequence, a fee its payer can no
        longer pay. The solo driver's mempool never holds such a tx."""
        out: list[bytes] = []
        total = 0
        qctx = self.query_ctx()
        rules = self.ante.rules(qctx)
        # foreign (Ethereum) txs reserve their gas limit of the block's gas; past it
        # a tx waits in the mempool for a later block, and so do its sender's later
        # txs (their nonces follow it)
        gas_left = self.foreign.block_gas_limit(qctx) if self.foreign is not None else 0
        waiting: set[bytes] = set()
        deferred: list[bytes] = []
        branch: Ctx | None = None
        if against_state:
            base = self._ctx(Mode.CHECK, self.store.height() + 1, self.last_block_time_ns)
            branch = Ctx(base.store.branch(), base.block, Mode.CHECK)
        for raw in txs:
            if total + len(raw) > max_tx_bytes:
                break
            try:
                execute.check_stateless(raw, self.routes, rules, self.foreign)
            except ChainError:
                continue
            if self.foreign is not None and self.foreign.claims(raw):
                reserve = self.foreign.block_gas(raw, qctx)
                if reserve is not None:
                    sender, gas = reserve
                    if sender in waiting or gas > gas_left:
                        waiting.add(sender)
                        deferred.append(raw)
                        continue
                    gas_left -= gas
            if branch is not None:
                r = execute.apply_tx(
                    branch, raw, self.routes, self.ante, verify_sig=False, foreign=self.foreign
                )
                if not r.ok:
                    log.info(
                        "proposal leaves out tx %s: %s",
                        hashlib.sha256(raw).hexdigest().upper(),
                        r.log,
                    )
                    continue
            out.append(raw)
            total += len(raw)
        # the check is a pure function of the tx and the rules: ProcessProposal
        # of this very proposal need not repeat it
        self._proposed = (rules, frozenset(out))
        self.deferred = frozenset(deferred)
        return out

    def process_proposal(self, txs: list[bytes], max_tx_bytes: int | None = None) -> bool:
        """Accept a proposal unless it breaks block limits or holds a tx that CheckTx
        would refuse without looking at state. Txs that fail against state (a spent
        sequence, an empty account) fail individually inside the block.

        ``max_tx_bytes``: the driver's own limit on the txs' bytes; the block size
        limit genesis set applies in any case. Both come from state or the
        request, so every validator decides alike."""
        limit = self.max_block_bytes()
        if max_tx_bytes is not None:
            limit = min(limit, max_tx_bytes)
        size = sum(len(t) for t in txs)
        if size > limit:
            log.warning("proposal rejected: its txs are %d bytes; the limit is %d", size, limit)
            return False
        rules = self.ante.rules(self.query_ctx())
        known = self._proposed[1] if self._proposed[0] == rules else frozenset()
        for i, raw in enumerate(txs):
            if raw in known:
                continue
            try:
                execute.check_stateless(raw, self.routes, rules, self.foreign)
            except ChainError as e:
                log.warning("proposal rejected: tx %d is refused: %s", i, e.log())
                return False
        return True

    def finalize_block(
        self, block: BlockInfo, txs: list[bytes], consensus: ConsensusInputs = NO_INPUTS
    ) -> BlockResult:
        """Execute a decided block on a fresh overlay; stage but do not persist.

        ``consensus``: CometBFT's last-commit votes and misbehavior for the
        block (the solo driver passes none). The result's validator updates
        are the set's changes over the block, for CometBFT."""
        expected = self.store.height() + 1
        if block.height != expected:
            raise ValueError(f"FinalizeBlock for height {block.height}; expected {expected}")
        if block.chain_id != self.chain_id:
            raise ValueError(
                f"block for chain {block.chain_id!r}; this node runs {self.chain_id!r}"
            )
        ctx = Ctx(self._committed(), block, Mode.BLOCK)
        pre = self._prepass(ctx, txs)
        out = execute.apply_block(
            ctx, txs, self.modules, self.routes, self.ante, pre, consensus, self.foreign
        )
        self._pending = self._stage(ctx, block.height, block.time_ns)
        return BlockResult(
            block.height, out.results, out.events, self._pending.app_hash, out.validator_updates
        )

    def _prepass(self, ctx: Ctx, txs: list[bytes]) -> execute.Predecoded | None:
        """Decode the block ahead and start its signature checks on the helper
        process, when the node has one and the block is large enough."""
        checks = self.sigverify.begin_block(ctx.block.chain_id, len(txs))
        if checks.verifier is None:
            return None
        return execute.predecode(ctx, txs, self.routes, self.ante, checks, self.foreign)

    def commit(self) -> int:
        """Persist the staged block in one atomic batch; reset the CheckTx overlay."""
        if self._pending is None:
            raise ValueError("Commit without FinalizeBlock")
        pending, self._pending = self._pending, None
        self._persist(pending)
        if self.snapshots is not None and self.snapshots.due(pending.height):
            self._take_snapshot(self.snapshots)
        return pending.height

    # -- state sync: snapshots and block retention -------------------------------
    def set_snapshots(self, snapshots: SnapshotStore | None, min_retain_blocks: int = 0) -> None:
        """Hand the app its snapshot store (None: no snapshots taken or served;
        a restore then keeps its chunks in memory) and the blocks CometBFT must
        keep (0: all)."""
        if min_retain_blocks < 0:
            raise ValueError("min_retain_blocks must be ≥ 0")
        self.snapshots = snapshots
        self.min_retain_blocks = min_retain_blocks

    def _take_snapshot(self, snapshots: SnapshotStore) -> None:
        """Snapshot the commit just written. A failure is logged, never raised:
        a node that cannot write a snapshot still runs blocks."""
        t0 = time.perf_counter()
        try:
            info = snapshots.take(self.store, self.module_names())
        except Exception:
            log.exception("snapshot at height %d failed", self.store.height())
            return
        log.info(
            "snapshot at height %d: %d chunks in %.2f s",
            info.height,
            info.chunks,
            time.perf_counter() - t0,
        )

    def retain_height(self) -> int:
        """Commit's retain_height: the height minus min_retain_blocks (0, keep
        everything, when that is unset or not positive), never above the oldest
        snapshot kept, whose blocks a state-syncing peer needs."""
        if self.min_retain_blocks <= 0:
            return 0
        retain = max(0, self.store.height() - self.min_retain_blocks)
        if self.snapshots is not None:
            oldest = self.snapshots.oldest_height()
            if oldest is not None:
                retain = min(retain, oldest)
        return retain

    def list_snapshots(self) -> list[SnapshotInfo]:
        return [] if self.snapshots is None else self.snapshots.list()

    def load_snapshot_chunk(self, height: int, format_: int, index: int) -> bytes:
        return b"" if self.snapshots is None else self.snapshots.load_chunk(height, format_, index)

    def offer_snapshot(
        self, height: int, format_: int, chunks: int, hash_: bytes, metadata: bytes, app_hash: bytes
    ) -> OfferResult:
        """Take up an offered snapshot if this app is empty and the offer is well
        formed; ``app_hash`` is the one CometBFT's light client verified."""
        if format_ != FORMAT:
            log.warning("snapshot at height %d refused: unknown format %d", height, format_)
            return OfferResult.REJECT_FORMAT
        if self.store.height() != 0 or self.store.chain_meta():
            log.warning("snapshot offered to an app that holds state: state sync aborted")
            return OfferResult.ABORT
        try:
            hashes = parse_metadata(chunks, hash_, metadata)
            if height < 1 or len(app_hash) != 32:
                raise SnapshotError(f"height {height} or a {len(app_hash)}-byte app hash")
        except SnapshotError as e:
            log.warning("snapshot at height %d refused: %s", height, e)
            return OfferResult.REJECT
        self._drop_restore()
        work = None if self.snapshots is None else self.snapshots.restore_dir()
        chain_id = "" if self.snapshots is None else self.snapshots.chain_id
        self._restore = Restore(height, hashes, app_hash, work, chain_id)
        log.info("restoring the snapshot at height %d (%d chunks)", height, chunks)
        return OfferResult.ACCEPT

    def _drop_restore(self) -> None:
        if self._restore is not None:
            self._restore.close()
            self._restore = None

    def apply_snapshot_chunk(self, index: int, chunk: bytes, sender: str = "") -> ApplyOutcome:
        """Check and keep one chunk of the offered snapshot; after the last,
        import the state in one write batch if its app hash is the trusted one.
        Whatever is refused leaves the store as it was: empty."""
        r = self._restore
        if r is None:
            out = ApplyOutcome(ApplyResult.ABORT, reason="no snapshot is being restored")
            log.warning("snapshot chunk %d: %s", index, out.reason)
            return out
        try:
            out = r.apply(index, chunk, sender, self.module_names())
            if out.restored is not None:
                im = out.restored
                self.store.commit(
                    im.height, im.app_hash, im.changes, im.node_writes, im.roots, im.chain_meta
                )
                self.chain_id = str(im.chain_meta["chain_id"])
                self.last_block_time_ns = int(im.chain_meta["last_block_time_ns"])
                self._check, self._pending = None, None
                log.info("restored the snapshot at height %d", im.height)
                out = ApplyOutcome(ApplyResult.ACCEPT)
                self._drop_restore()
        except Exception as e:
            log.exception("snapshot chunk %d failed", index)
            out = ApplyOutcome(ApplyResult.REJECT_SNAPSHOT, reason=f"{type(e).__name__}: {e}")
        if out.result in (ApplyResult.REJECT_SNAPSHOT, ApplyResult.ABORT):
            log.warning("snapshot at height %d refused: %s", r.height, out.reason)
            self._drop_restore()
        elif out.result == ApplyResult.RETRY:
            log.warning("snapshot at height %d: %s; refetching it", r.height, out.reason)
        return out

    # -- ABCI: query connection -------------------------------------------------
    def query(
        self, path: str, data: bytes = b"", height: int = 0, prove: bool = False
    ) -> QueryResult:
        """Read the last commit.

        ``/store/<module>/key`` with the raw key as data (``prove`` adds a
        Merkle proof against the app hash); ``/custom/<module>/<query>`` with
        JSON data returns JSON.
        """
        h = self.store.height()
        if height and height != h:
            return self._qerr(ErrInvalidRequest(f"only the latest height {h} can be queried"), h)
        parts = path.strip("/").split("/")
        try:
            if len(parts) == 3 and parts[0] == "store" and parts[2] == "key":
                return self._query_store(parts[1], data, prove, h)
            if len(parts) == 3 and parts[0] == "custom":
                req = load_json(data or b"{}", "query data", max_bytes=MAX_QUERY_BYTES)
                if not isinstance(req, dict):
                    raise ErrInvalidRequest("query data must be a JSON object")
                out = self.custom_query(parts[1], parts[2], req)
                return QueryResult(value=json.dumps(out, sort_keys=True).encode(), height=h)
            if path.strip("/") == "app/simulate":
                r = self.simulate(data)
                return QueryResult(
                    code=r.code,
                    codespace=r.codespace,
                    log=r.log,
                    value=json.dumps({"gas_used": r.gas_used}).encode(),
                    height=h,
                )
            raise ErrUnknownRequest(f"unknown query path {path!r}")
        except ChainError as e:
            return self._qerr(e, h)
        except ValueError as e:
            return self._qerr(ErrInvalidRequest(f"bad query data: {e}"), h)
        except MemoryError:
            raise
        except Exception as e:  # a query's bug answers as an error, never takes the server down
            log.exception("query %r crashed", path[:200])
            return self._qerr(execute.ErrInternal(f"{type(e).__name__} in query {path[:200]!r}"), h)

    def custom_query(self, module: str, name: str, req: dict[str, Any]) -> Any:
        for m in self.modules:
            if m.name == module:
                fn: Callable[[Ctx, dict[str, Any]], Any] | None = m.queries.get(name)
                if fn is None:
                    raise ErrUnknownRequest(
                        f"module {module} has no query {name!r}; it has {sorted(m.queries)}"
                    )
                return fn(self.query_ctx(), req)
        raise ErrUnknownRequest(f"no module {module!r}")

    def _query_store(self, module: str, key: bytes, prove: bool, h: int) -> QueryResult:
        if module not in self.module_names():
            raise ErrNotFound(f"no store {module!r}")
        value = self.store.module_kv(module).get(key)
        proof = self.store.prove(module, key, self.module_names()).to_json() if prove else None
        return QueryResult(key=key, value=value or b"", height=h, proof=proof)

    @staticmethod
    def _qerr(e: ChainError, h: int) -> QueryResult:
        return QueryResult(code=e.code, codespace=e.codespace, log=e.log(), height=h)

    def check_invariants(self) -> list[str]:
        ctx = self.query_ctx()
        broken = []
        for m in self.modules:
            for name, fn in m.invariants.items():
                msg = fn(ctx)
                if msg:
                    broken.append(f"{m.name}/{name}: {msg}")
        return broken

    def close(self) -> None:
        self.sigverify.close()
        self.store.close()
