"""The ABCI socket under hostile requests. CometBFT halts on a ResponseException or
a closed connection, so a request the app fails on gets its method's own
refusal (a code, REJECT, an empty proposal) and the connection stays open;
only a broken frame closes it, and the log says why."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cosmpy.protos.tendermint.abci import types_pb2 as abci
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.app import App
from chain.abci.server import serve
from chain.abci.wire import MAX_MESSAGE, encode_uvarint, frame
from chain.crypto import PrivateKey
from modules.jobs.msgs import MsgPostJob
from tests.support.chain import ALICE, Chain, make_genesis, new_app

DEEP = "[" * 5000 + "]" * 5000


class AbciClient:
    """A blocking client speaking CometBFT's framing on one connection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send_raw(self, payload: bytes) -> None:
        self.sock.sendall(payload)

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self) -> abci.Response:
        n, shift = 0, 0
        while True:
            b = self._read(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        resp = abci.Response()
        resp.ParseFromString(self._read(n))
        return resp

    def call(self, **req: Any) -> abci.Response:
        self.send_raw(frame(abci.Request(**req).SerializeToString()))
        self.send_raw(frame(abci.Request(flush=abci.RequestFlush()).SerializeToString()))
        resp = self.recv()
        assert self.recv().WhichOneof("value") == "flush"
        return resp

    def alive(self) -> bool:
        echo: str = self.call(echo=abci.RequestEcho(message="still there")).echo.message
        return echo == "still there"

    def closed(self) -> bool:
        self.sock.settimeout(10)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    a = new_app(tmp_path_factory.mktemp("abci-hostile") / "state", make_genesis())
    yield a
    a.close()


@pytest.fixture(scope="module")
def port(app: App) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(serve(app, "127.0.0.1", 0))
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    yield server.sockets[0].getsockname()[1]

    async def shutdown() -> None:
        server.close()
        conns = [c for c in asyncio.all_tasks() if c is not asyncio.current_task()]
        for c in conns:
            c.cancel()
        await asyncio.gather(*conns, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(5)
    loop.close()


@pytest.fixture
def client(port: int) -> Iterator[AbciClient]:
    c = AbciClient(port)
    yield c
    c.close()


def poison_tx(app: App, key: PrivateKey = ALICE) -> bytes:
    msg = MsgPostJob(
        poster=key.bech32,
        task_type="text-generation",
        model="tiny-lm",
        inline_input=b"hello",
        spec=DEEP,
        max_price="1000",
    )
    return Chain(app).sign(key, [msg], gas_limit=1_000_000, count=False)


def test_check_tx_of_the_poison_tx_is_a_refusal(client: AbciClient, app: App) -> None:
    r = client.call(check_tx=abci.RequestCheckTx(tx=poison_tx(app), type=abci.CheckTxType.NEW))
    assert r.WhichOneof("value") == "check_tx" and r.check_tx.code != 0, r
    assert client.alive()


def test_malformed_queries_are_answered_with_a_code(client: AbciClient) -> None:
    for path, data in [
        ("/custom/auth/account", DEEP.encode()),
        ("/custom/auth/account", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        ("/custom/auth/account", b"\xff\xfe not json"),
        ("/custom/auth/account", b"[]"),
        ("/store/bank/key", b""),
        ("/store/nowhere/key", b"\x00"),
        ("", b""),
        ("/" * 1000, b"x" * 10_000),
    ]:
        r = client.call(query=abci.RequestQuery(path=path, data=data))
        assert r.WhichOneof("value") == "query", (path, r)
        assert r.query.code != 0 or path == "/store/bank/key", (path, r.query.log)
    assert client.alive()


@pytest.mark.parametrize(
    "method,request_field,answer",
    [
        ("check_tx", abci.RequestCheckTx(tx=b"\x0a\x00"), "code"),
        ("query", abci.RequestQuery(path="/store/bank/key", data=b"\x00"), "code"),
        ("process_proposal", abci.RequestProcessProposal(txs=[b"x"], height=2), "reject"),
        ("prepare_proposal", abci.RequestPrepareProposal(txs=[b"x"], max_tx_bytes=100), "empty"),
        ("finalize_block", abci.RequestFinalizeBlock(txs=[b"x"], height=2), "exception"),
    ],
)
@pytest.mark.parametrize(
    "error",
    [
        RecursionError("maximum recursion depth exceeded"),
        # a bug, not a missing handler: it must not be answered as "unsupported request"
        AttributeError("'NoneType' object has no attribute 'pubkey'"),
    ],
    ids=["RecursionError", "AttributeError"],
)
def test_an_app_call_that_raises_is_answered_and_the_connection_stays(
    client: AbciClient,
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    request_field: Any,
    answer: str,
    error: Exception,
) -> None:
    def broken(*args: Any, **kw: Any) -> Any:
        raise error

    monkeypatch.setattr(app, method, broken)
    with caplog.at_level(logging.ERROR, logger="vcoin.abci"):
        r = client.call(**{method: request_field})
    kind = r.WhichOneof("value")
    name = type(error).__name__
    assert "unsupported" not in str(r), r
    if answer == "code":
        assert kind == method
        got = getattr(r, method)
        assert got.code != 0 and name in got.log
    elif answer == "reject":
        assert r.process_proposal.status == abci.ResponseProcessProposal.REJECT
    elif answer == "empty":
        assert kind == "prepare_proposal" and list(r.prepare_proposal.txs) == []
    else:  # no way to say "failed" but an exception: an app that cannot run a block must halt
        assert kind == "exception" and name in r.exception.error
    assert any(rec.exc_info for rec in caplog.records), "the failure is not in the log"
    monkeypatch.undo()
    assert client.alive()


def test_a_frame_that_is_not_a_request_is_answered_and_the_connection_stays(
    client: AbciClient,
) -> None:
    for junk in [b"\xff\xff\xff", b"\x0a\x05abc", b"\x12" + b"\x80" * 5, b"\x32\x02\x0a\xff"]:
        client.send_raw(frame(junk))
        r = client.recv()
        assert r.WhichOneof("value") == "exception" and "not an ABCI Request" in r.exception.error
    assert client.alive()


@pytest.mark.parametrize(
    "prefix,why",
    [
        (b"\xff" * 11, "longer than 10 bytes"),
        (encode_uvarint(MAX_MESSAGE + 1), "over the"),
    ],
)
def test_only_a_broken_frame_closes_the_connection_and_the_log_says_why(
    client: AbciClient, caplog: pytest.LogCaptureFixture, prefix: bytes, why: str
) -> None:
    assert client.alive()
    with caplog.at_level(logging.WARNING, logger="vcoin.abci"):
        client.send_raw(prefix)
        assert client.closed()
    assert any("broken frame" in r.getMessage() and why in r.getMessage() for r in caplog.records)


def _harmless(raw: bytes) -> bool:
    """Bytes that are no request, or one that changes no state (not a random Commit)."""
    try:
        kind = abci.Request.FromString(raw).WhichOneof("value")
    except Exception:
        return True
    return kind in (None, "echo", "flush", "info", "check_tx", "query", "list_snapshots")


HYPO = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPO
@given(raw=st.binary(max_size=300))
def test_any_frame_content_gets_an_answer_and_the_connection_stays(
    client: AbciClient, raw: bytes
) -> None:
    assume(_harmless(raw))
    client.send_raw(frame(raw))
    client.send_raw(frame(abci.Request(flush=abci.RequestFlush()).SerializeToString()))
    first = client.recv()
    if first.WhichOneof("value") != "flush":
        assert client.recv().WhichOneof("value") == "flush"
    assert client.alive()


@HYPO
@given(
    tx=st.binary(max_size=300),
    path=st.text(max_size=40),
    data=st.binary(max_size=100),
)
def test_any_check_tx_or_query_gets_its_own_response(
    client: AbciClient, tx: bytes, path: str, data: bytes
) -> None:
    r = client.call(check_tx=abci.RequestCheckTx(tx=tx, type=abci.CheckTxType.NEW))
    assert r.WhichOneof("value") == "check_tx"
    q = client.call(query=abci.RequestQuery(path=path, data=data))
    assert q.WhichOneof("value") == "query"


def test_the_app_still_commits_blocks_after_all_that(app: App) -> None:
    h = app.info().last_block_height
    Chain(app).block([])
    assert app.info().last_block_height == h + 1
