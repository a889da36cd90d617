"""ABCI socket server for CometBFT v0.38: protobuf in, App call, protobuf out.

CometBFT opens four connections (consensus, mempool, query, snapshot) and
sends requests on each in order; every request gets one response in the same
order. App calls from all connections are serialised by one lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from cosmpy.protos.tendermint.abci import types_pb2 as abci
from cosmpy.protos.tendermint.crypto.proof_pb2 import ProofOp, ProofOps

from chain.abci.wire import frame, read_frame
from chain.app import App
from chain.context import BlockInfo
from chain.events import Event
from chain.results import TxResult

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


class AbciApp:
    """Translate one ABCI request into an App call and its response."""

    def __init__(self, app: App, lock: threading.RLock | None = None) -> None:
        self.app = app
        self.lock = lock or threading.RLock()

    def handle(self, req: abci.Request) -> abci.Response:
        kind = req.WhichOneof("value")
        with self.lock:
            try:
                resp: abci.Response = getattr(self, f"_{kind}")(getattr(req, kind))
                return resp
            except AttributeError:
                log.warning("unsupported ABCI request %s", kind)
                return abci.Response(exception=abci.ResponseException(error=f"unsupported {kind}"))

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
        h = self.app.init_chain(r.chain_id, state, _time_ns(r.time), int(r.initial_height or 1))
        return abci.Response(init_chain=abci.ResponseInitChain(app_hash=h))

    def _check_tx(self, r: Any) -> abci.Response:
        res = self.app.check_tx(bytes(r.tx), recheck=r.type == abci.CheckTxType.RECHECK)
        return abci.Response(check_tx=abci.ResponseCheckTx(**_tx_fields(res)))

    def _prepare_proposal(self, r: Any) -> abci.Response:
        txs = self.app.prepare_proposal([bytes(t) for t in r.txs], int(r.max_tx_bytes))
        return abci.Response(prepare_proposal=abci.ResponsePrepareProposal(txs=txs))

    def _process_proposal(self, r: Any) -> abci.Response:
        ok = self.app.process_proposal([bytes(t) for t in r.txs], 1 << 62)
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
        res = self.app.finalize_block(block, [bytes(t) for t in r.txs])
        return abci.Response(
            finalize_block=abci.ResponseFinalizeBlock(
                events=_events(res.events),
                tx_results=[abci.ExecTxResult(**_tx_fields(t)) for t in res.tx_results],
                app_hash=res.app_hash,
            )
        )

    def _commit(self, r: Any) -> abci.Response:
        self.app.commit()
        return abci.Response(commit=abci.ResponseCommit(retain_height=0))

    def _query(self, r: Any) -> abci.Response:
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

    def _list_snapshots(self, r: Any) -> abci.Response:
        return abci.Response(list_snapshots=abci.ResponseListSnapshots())

    def _offer_snapshot(self, r: Any) -> abci.Response:
        return abci.Response(
            offer_snapshot=abci.ResponseOfferSnapshot(result=abci.ResponseOfferSnapshot.REJECT)
        )

    def _extend_vote(self, r: Any) -> abci.Response:
        return abci.Response(extend_vote=abci.ResponseExtendVote())

    def _verify_vote_extension(self, r: Any) -> abci.Response:
        return abci.Response(
            verify_vote_extension=abci.ResponseVerifyVoteExtension(
                status=abci.ResponseVerifyVoteExtension.ACCEPT
            )
        )


async def _serve_conn(
    handler: AbciApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    peer = writer.get_extra_info("peername")
    try:
        while True:
            raw = await read_frame(reader)
            req = abci.Request()
            req.ParseFromString(raw)
            resp = await asyncio.to_thread(handler.handle, req)
            writer.write(frame(resp.SerializeToString()))
            if req.WhichOneof("value") == "flush":
                await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    except Exception:
        log.exception("ABCI connection %s failed", peer)
    finally:
        writer.close()


async def serve(
    app: App, host: str, port: int, lock: threading.RLock | None = None
) -> asyncio.Server:
    handler = AbciApp(app, lock)
    server = await asyncio.start_server(lambda r, w: _serve_conn(handler, r, w), host, port)
    log.info("ABCI server listening on %s:%d", host, port)
    return server
