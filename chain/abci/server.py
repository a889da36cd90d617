"""ABCI socket server for CometBFT v0.38: protobuf in, App call, protobuf out.

CometBFT opens four connections (consensus, mempool, query, snapshot) and
sends requests on each in order; every request gets one response in the same
order. App calls from all connections are serialised by one lock.

CometBFT halts on a ``ResponseException`` or a closed connection, so neither
is what a bad request gets. A request the app fails on is answered with that
method's own response: CheckTx and Query with a non-zero code, ProcessProposal
with REJECT, PrepareProposal with no txs. Only methods that have no way to say
"failed" (InitChain, FinalizeBlock, Commit, Info) answer with an exception,
because an app that cannot run a block must not agree on one. A frame that
is not valid protobuf is answered with an exception and the connection stays;
only a broken frame (a bad length prefix) closes it, logged with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

from cosmpy.protos.tendermint.abci import types_pb2 as abci
from cosmpy.protos.tendermint.crypto.keys_pb2 import PublicKey
from cosmpy.protos.tendermint.crypto.proof_pb2 import ProofOp, ProofOps
from cosmpy.protos.tendermint.types.validator_pb2 import BLOCK_ID_FLAG_COMMIT
from google.protobuf.message import DecodeError

from chain.abci.wire import FrameError, frame, read_frame
from chain.baseapp import BaseApp
from chain.context import BlockInfo
from chain.errors import ErrInvalidRequest
from chain.events import Event
from chain.execute import ErrInternal
from chain.results import TxResult
from chain.rpc.jsonbody import JsonError, loads
from chain.snapshots import ApplyResult, OfferResult
from chain.valset import (
    DUPLICATE_VOTE,
    LIGHT_CLIENT_ATTACK,
    ConsensusInputs,
    Misbehavior,
    ValidatorUpdate,
    Vote,
)

log = logging.getLogger("vcoin.abci")


def _events(events: tuple[Event, ...]) -> list[abci.Event]:
    return [
        abci.Event(
            type=e.type,
            attributes=[abci.EventAttribute(key=k, value=v, index=True) for k, v in e.attributes],
        )
        for e in events
    ]


def _tx_fields(r: TxResult) -> dict[str, Any]:
    return {
        "code": r.code,
        "data": r.data,
        "log": r.log,
        "gas_wanted": r.gas_wanted,
        "gas_used": r.gas_used,
        "events": _events(r.events),
        "codespace": r.codespace,
    }


def _time_ns(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000_000 + int(ts.nanos)


def _validator_updates(vals: Iterable[ValidatorUpdate]) -> list[abci.ValidatorUpdate]:
    return [abci.ValidatorUpdate(pub_key=PublicKey(ed25519=v.pubkey), power=v.power) for v in vals]


_MISBEHAVIOR_KINDS = {
    abci.MisbehaviorType.DUPLICATE_VOTE: DUPLICATE_VOTE,
    abci.MisbehaviorType.LIGHT_CLIENT_ATTACK: LIGHT_CLIENT_ATTACK,
}


def _consensus_inputs(r: Any) -> ConsensusInputs:
    """RequestFinalizeBlock's last commit and misbehavior as plain data (an
    unknown misbehavior type is left out, logged)."""
    votes = tuple(
        Vote(
            bytes(v.validator.address),
            v.block_id_flag == BLOCK_ID_FLAG_COMMIT,
            int(v.validator.power),
        )
        for v in r.decided_last_commit.votes
    )
    evidence = []
    for m in r.misbehavior:
        kind = _MISBEHAVIOR_KINDS.get(m.type)
        if kind is None:
            log.warning("misbehavior of unknown type %d at height %d left out", m.type, m.height)
            continue
        evidence.append(
            Misbehavior(
                kind,
                bytes(m.validator.address),
                int(m.height),
                _time_ns(m.time),
                int(m.total_voting_power),
            )
        )
    return ConsensusInputs(votes, tuple(evidence))


class AbciApp:
    """Translate one ABCI request into an App call and its response."""

    def __init__(self, app: BaseApp, lock: threading.RLock | None = None) -> None:
        self.app = app
        self.lock = lock or threading.RLock()

    def handle(self, req: abci.Request) -> abci.Response:
        kind = req.WhichOneof("value")
        method = getattr(self, f"_{kind}", None) if kind else None
        if method is None:
            log.warning("unsupported ABCI request %s", kind)
            return _exception(f"unsupported ABCI request {kind}")
        with self.lock:
            try:
                resp: abci.Response = method(getattr(req, kind))
                return resp
            except Exception as e:
                log.exception("ABCI %s failed", kind, extra={"abci": kind})
                return _failed(kind, f"{type(e).__name__} in {kind}; see the app's log")

    def _echo(self, r: Any) -> abci.Response:
        return abci.Response(echo=abci.ResponseEcho(message=r.message))

    def _flush(self, r: Any) -> abci.Response:
        return abci.Response(flush=abci.ResponseFlush())

    def _info(self, r: Any) -> abci.Response:
        i = self.app.info()
        return abci.Response(
            info=abci.ResponseInfo(
                data="vcoin",
                version=i.version,
                app_version=i.app_version,
                last_block_height=i.last_block_height,
                last_block_app_hash=i.last_block_app_hash,
            )
        )

    def _init_chain(self, r: Any) -> abci.Response:
        state = json.loads(r.app_state_bytes or b"{}")
        max_bytes = (
            int(r.consensus_params.block.max_bytes) if r.HasField("consensus_params") else None
        )
        h = self.app.init_chain(
            r.chain_id, state, _time_ns(r.time), int(r.initial_height or 1), max_bytes
        )
        # the set staking holds; none leaves CometBFT's genesis validators in place
        vals = _validator_updates(self.app.validator_set())
        return abci.Response(init_chain=abci.ResponseInitChain(app_hash=h, validators=vals))

    def _check_tx(self, r: Any) -> abci.Response:
        res = self.app.check_tx(bytes(r.tx), recheck=r.type == abci.CheckTxType.RECHECK)
        return abci.Response(check_tx=abci.ResponseCheckTx(**_tx_fields(res)))

    def _prepare_proposal(self, r: Any) -> abci.Response:
        txs = self.app.prepare_proposal(
            [bytes(t) for t in r.txs], int(r.max_tx_bytes), against_state=True
        )
        return abci.Response(prepare_proposal=abci.ResponsePrepareProposal(txs=txs))

    def _process_proposal(self, r: Any) -> abci.Response:
        # no limit of its own: the app holds the proposal to the block size
        # limit of genesis' consensus params, which it keeps in state
        ok = self.app.process_proposal([bytes(t) for t in r.txs])
        status = abci.ResponseProcessProposal.ACCEPT if ok else abci.ResponseProcessProposal.REJECT
        return abci.Response(process_proposal=abci.ResponseProcessProposal(status=status))

    def _finalize_block(self, r: Any) -> abci.Response:
        block = BlockInfo(
            self.app.chain_id,
            int(r.height),
            _time_ns(r.time),
            bytes(r.hash),
            bytes(r.proposer_address),
        )
        res = self.app.finalize_block(block, [bytes(t) for t in r.txs], _consensus_inputs(r))
        return abci.Response(
            finalize_block=abci.ResponseFinalizeBlock(
                events=_events(res.events),
                tx_results=[abci.ExecTxResult(**_tx_fields(t)) for t in res.tx_results],
                validator_updates=_validator_updates(res.validator_updates),
                app_hash=res.app_hash,
            )
        )

    def _commit(self, r: Any) -> abci.Response:
        self.app.commit()
        # blocks below this height CometBFT may prune (0: keep all; see BaseApp.retain_height)
        retain = self.app.retain_height()
        return abci.Response(commit=abci.ResponseCommit(retain_height=retain))

    def _query(self, r: Any) -> abci.Response:
        if r.path.strip("/").startswith("custom/") and r.data:
            try:
                loads(bytes(r.data))
            except JsonError as e:
                err = ErrInvalidRequest(f"a /custom query takes JSON data: {e}")
                return abci.Response(
                    query=abci.ResponseQuery(code=err.code, codespace=err.codespace, log=err.log())
                )
        q = self.app.query(r.path, bytes(r.data), int(r.height), bool(r.prove))
        ops = None
        if q.proof is not None:
            ops = ProofOps(
                ops=[ProofOp(type="vcoin:smt", key=q.key, data=json.dumps(q.proof).encode())]
            )
        return abci.Response(
            query=abci.ResponseQuery(
                code=q.code,
                log=q.log,
                key=q.key,
                value=q.value,
                height=q.height,
                codespace=q.codespace,
                proof_ops=ops,
            )
        )

    # -- state sync (chain/snapshots.py): a bad snapshot or chunk gets a refusal
    # CometBFT acts on (another snapshot, a refetch), never an exception
    def _list_snapshots(self, r: Any) -> abci.Response:
        snaps = [
            abci.Snapshot(
                height=s.height, format=s.format, chunks=s.chunks, hash=s.hash, metadata=s.metadata
            )
            for s in self.app.list_snapshots()
        ]
        return abci.Response(list_snapshots=abci.ResponseListSnapshots(snapshots=snaps))

    def _load_snapshot_chunk(self, r: Any) -> abci.Response:
        chunk = self.app.load_snapshot_chunk(int(r.height), int(r.format), int(r.chunk))
        return abci.Response(load_snapshot_chunk=abci.ResponseLoadSnapshotChunk(chunk=chunk))

    def _offer_snapshot(self, r: Any) -> abci.Response:
        s = r.snapshot
        try:
            res = self.app.offer_snapshot(
                int(s.height),
                int(s.format),
                int(s.chunks),
                bytes(s.hash),
                bytes(s.metadata),
                bytes(r.app_hash),
            )
        except Exception:
            log.exception("OfferSnapshot failed; the snapshot is refused")
            res = OfferResult.REJECT
        return abci.Response(offer_snapshot=abci.ResponseOfferSnapshot(result=_OFFER_RESULTS[res]))

    def _apply_snapshot_chunk(self, r: Any) -> abci.Response:
        out = self.app.apply_snapshot_chunk(int(r.index), bytes(r.chunk), str(r.sender))
        return abci.Response(
            apply_snapshot_chunk=abci.ResponseApplySnapshotChunk(
                result=_APPLY_RESULTS[out.result],
                refetch_chunks=list(out.refetch),
                reject_senders=list(out.reject_senders),
            )
        )

    def _extend_vote(self, r: Any) -> abci.Response:
        return abci.Response(extend_vote=abci.ResponseExtendVote())

    def _verify_vote_extension(self, r: Any) -> abci.Response:
        return abci.Response(
            verify_vote_extension=abci.ResponseVerifyVoteExtension(
                status=abci.ResponseVerifyVoteExtension.ACCEPT
            )
        )


_OFFER_RESULTS = {
    OfferResult.ACCEPT: abci.ResponseOfferSnapshot.ACCEPT,
    OfferResult.ABORT: abci.ResponseOfferSnapshot.ABORT,
    OfferResult.REJECT: abci.ResponseOfferSnapshot.REJECT,
    OfferResult.REJECT_FORMAT: abci.ResponseOfferSnapshot.REJECT_FORMAT,
}
_APPLY_RESULTS = {
    ApplyResult.ACCEPT: abci.ResponseApplySnapshotChunk.ACCEPT,
    ApplyResult.ABORT: abci.ResponseApplySnapshotChunk.ABORT,
    ApplyResult.RETRY: abci.ResponseApplySnapshotChunk.RETRY,
    ApplyResult.REJECT_SNAPSHOT: abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT,
}


def _exception(error: str) -> abci.Response:
    return abci.Response(exception=abci.ResponseException(error=error))


def _failed(kind: str, log_text: str) -> abci.Response:
    """The answer to a request the app raised on: a refusal where the method has one."""
    code, space = ErrInternal.code, ErrInternal.codespace
    if kind == "check_tx":
        return abci.Response(
            check_tx=abci.ResponseCheckTx(code=code, codespace=space, log=log_text)
        )
    if kind == "query":
        return abci.Response(query=abci.ResponseQuery(code=code, codespace=space, log=log_text))
    if kind == "process_proposal":
        return abci.Response(
            process_proposal=abci.ResponseProcessProposal(
                status=abci.ResponseProcessProposal.REJECT
            )
        )
    if kind == "prepare_proposal":
        # an empty block is always a valid proposal
        return abci.Response(prepare_proposal=abci.ResponsePrepareProposal())
    return _exception(log_text)


def _decode(raw: bytes) -> abci.Request | str:
    """The request in a frame, or why the frame's bytes are not one."""
    req = abci.Request()
    try:
        req.ParseFromString(raw)
    except (DecodeError, RecursionError, ValueError) as e:
        return f"the frame is not an ABCI Request: {e}"
    return req


async def _serve_conn(
    handler: AbciApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    peer = writer.get_extra_info("peername")
    try:
        while True:
            raw = await read_frame(reader)
            req = _decode(raw)
            if isinstance(req, str):
                log.warning("ABCI connection %s: %s", peer, req)
                writer.write(frame(_exception(req).SerializeToString()))
                await writer.drain()
                continue
            resp = await asyncio.to_thread(handler.handle, req)
            writer.write(frame(resp.SerializeToString()))
            if req.WhichOneof("value") == "flush":
                await writer.drain()
    except asyncio.IncompleteReadError as e:
        if e.partial:
            log.warning("ABCI connection %s closed by the peer in the middle of a frame", peer)
    except FrameError as e:
        log.warning("ABCI connection %s closed: broken frame: %s", peer, e)
    except ConnectionError:
        pass
    except Exception:
        log.exception("ABCI connection %s failed", peer)
    finally:
        writer.close()


async def serve(
    app: BaseApp, host: str, port: int, lock: threading.RLock | None = None
) -> asyncio.Server:
    return await serve_handler(AbciApp(app, lock), host, port)


async def serve_handler(handler: AbciApp, host: str, port: int) -> asyncio.Server:
    """Serve ABCI connections with ``handler`` (an ``AbciApp`` or a subclass)."""
    server = await asyncio.start_server(lambda r, w: _serve_conn(handler, r, w), host, port)
    log.info("ABCI server listening on %s:%d", host, port)
    return server
