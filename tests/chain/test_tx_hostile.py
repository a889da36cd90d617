"""Transactions built to crash the node: none may make CheckTx, PrepareProposal,
ProcessProposal or FinalizeBlock raise, and the cheap checks come first.

A poison tx (a signed, funded message whose JSON field nests thousands of
levels) is refused in CheckTx, dropped by PrepareProposal, makes ProcessProposal
reject a proposal that holds it, and fails alone if a block holds it anyway.
An exception that escapes a stage becomes a failed result naming the tx hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.app import App
from chain import execute
from chain.crypto import PrivateKey
from chain.errors import ChainError
from chain.tx import cosmos
from modules.auth.msgs import MsgUpdateParams
from modules.jobs.msgs import POST_JOB_URL, MsgPostJob
from tests.support.chain import ALICE, BOB, FEE, Chain, assert_ok

DEEP = "[" * 5000 + "]" * 5000


def post_job(key: PrivateKey, spec: str = "{}", **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "poster": key.bech32,
        "task_type": "text-generation",
        "model": "tiny-lm",
        "inline_input": b"hello",
        "spec": spec,
        "max_price": "1000",
    }
    fields.update(kw)
    return MsgPostJob(**fields)


def poison_cases(key: PrivateKey) -> dict[str, Any]:
    """Messages whose content once raised out of a validator."""
    return {
        "spec of 5,000 nested arrays": post_job(key, DEEP),
        "spec of 5,000 nested objects": post_job(key, '{"a":' * 5000 + "1" + "}" * 5000),
        "spec with a 5,000-digit number": post_job(key, '{"n": ' + "9" * 5000 + "}"),
        "spec NaN": post_job(key, '{"t": NaN}'),
        "params_json of 5,000 nested arrays": MsgUpdateParams(
            authority=key.bech32, module="jobs", params_json=DEEP
        ),
    }


CASES = list(poison_cases(ALICE))


@pytest.fixture
def ready(chain: Chain) -> Chain:
    chain.block([])
    return chain


def _poison(c: Chain, name: str, key: PrivateKey = ALICE, **kw: Any) -> bytes:
    # enough gas for 60 kB of tx, so that the size is not what refuses it
    return c.sign(key, [poison_cases(key)[name]], gas_limit=1_000_000, **kw)


@pytest.mark.parametrize("name", CASES)
def test_poison_is_refused_in_check_tx(ready: Chain, name: str) -> None:
    before = ready.balance(ALICE, pending=True), ready.sequence(ALICE, pending=True)
    r = ready.check(_poison(ready, name, count=False))
    assert r.code != 0 and r.codespace != "vcoin", r.log
    assert any(w in r.log for w in ("deeper than 32", "longer than 100", "not JSON")), r.log
    assert (ready.balance(ALICE, pending=True), ready.sequence(ALICE, pending=True)) == before


@pytest.mark.parametrize("name", CASES)
def test_poison_never_reaches_a_block(ready: Chain, name: str) -> None:
    app = ready.app
    good = ready.send(BOB, ALICE, 5)
    bad = _poison(ready, name, count=False)
    assert app.prepare_proposal([bad, good], 1 << 20) == [good]
    assert app.process_proposal([good], 1 << 20) is True
    assert app.process_proposal([good, bad], 1 << 20) is False


@pytest.mark.parametrize("name", CASES)
def test_poison_in_a_block_fails_alone(ready: Chain, name: str) -> None:
    alice0, seq0 = ready.balance(ALICE), ready.sequence(ALICE)
    bob0 = ready.balance(BOB)
    bad = _poison(ready, name, count=False)
    res = ready.block([bad, ready.send(BOB, ALICE, 5)])
    assert res.tx_results[0].code != 0
    assert_ok(res.tx_results[1])
    # refused before its messages ran, as a tx that does not decode: no fee, no sequence
    assert (ready.balance(ALICE), ready.sequence(ALICE)) == (alice0 + 5, seq0)
    assert ready.balance(BOB) == bob0 - 5 - FEE
    assert ready.app.check_invariants() == []


# -- cheap checks first ------------------------------------------------------------


@pytest.fixture
def counted(ready: Chain) -> Iterator[list[int]]:
    """Count the calls of MsgPostJob's validator (the JSON parsing)."""
    app = ready.app
    spec = app.routes[POST_JOB_URL]
    calls: list[int] = []

    def validate(msg: Any) -> Any:
        calls.append(1)
        return spec.validate(msg)  # the handler takes what validation parsed

    app.routes[POST_JOB_URL] = dataclasses.replace(spec, validate=validate)
    yield calls
    app.routes[POST_JOB_URL] = spec


def test_unfunded_poison_is_refused_before_its_content_is_parsed(
    ready: Chain, counted: list[int]
) -> None:
    stranger = PrivateKey.from_seed(b"never funded, never signed anything")
    raw = ready.sign(
        stranger, [post_job(stranger, DEEP)], account_number=0, sequence=0, count=False
    )
    r = ready.check(raw)
    assert (r.codespace, r.code) == ("sdk", 9), r.log  # unknown address: the ante's refusal
    res = ready.block([raw])
    assert (res.tx_results[0].codespace, res.tx_results[0].code) == ("sdk", 9)
    assert counted == []


def test_badly_signed_poison_is_refused_before_its_content_is_parsed(
    ready: Chain, counted: list[int]
) -> None:
    raw = ready.sign(ALICE, [post_job(ALICE, DEEP)], account_number=999, count=False)
    r = ready.check(raw)
    assert (r.codespace, r.code) == ("sdk", 4) and "signature" in r.log, r.log
    assert counted == []


def test_underpaying_poison_is_refused_before_its_content_is_parsed(
    ready: Chain, counted: list[int]
) -> None:
    raw = ready.sign(ALICE, [post_job(ALICE, DEEP)], fee_amount=1, count=False)
    r = ready.check(raw)
    assert (r.codespace, r.code) == ("sdk", 13), r.log
    assert counted == []


def test_a_signed_funded_tx_has_its_content_checked(ready: Chain, counted: list[int]) -> None:
    r = ready.check(ready.sign(ALICE, [post_job(ALICE, DEEP)], count=False))
    assert "deeper than 32" in r.log
    assert counted == [1]


# -- an exception escaping a stage -------------------------------------------------


def _crash(e: BaseException) -> Callable[..., None]:
    def boom(*a: object, **kw: object) -> None:
        raise e

    return boom


@pytest.fixture
def send_spec(ready: Chain) -> Iterator[Callable[..., None]]:
    """Replace MsgSend's MsgSpec fields for one test."""
    app = ready.app
    url = "/cosmos.bank.v1beta1.MsgSend"
    orig = app.routes[url]

    def patch(**kw: Any) -> None:
        app.routes[url] = dataclasses.replace(orig, **kw)

    yield patch
    app.routes[url] = orig


def _tx_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest().upper()


@pytest.mark.parametrize(
    "exc", [RuntimeError("bug"), RecursionError("deep"), KeyError("k"), ZeroDivisionError()]
)
def test_a_crashing_handler_fails_its_tx_and_charges_the_fee(
    ready: Chain,
    send_spec: Callable[..., None],
    exc: BaseException,
    caplog: pytest.LogCaptureFixture,
) -> None:
    send_spec(handler=_crash(exc))
    alice0, seq0 = ready.balance(ALICE), ready.sequence(ALICE)
    bad = ready.send(ALICE, BOB, 1)
    r = ready.check(bad)
    assert (r.codespace, r.code) == ("vcoin", 2) and _tx_hash(bad) in r.log, r.log
    with caplog.at_level(logging.ERROR, "vcoin.execute"):
        res = ready.block([bad])
    got = res.tx_results[0]
    assert (got.codespace, got.code) == ("vcoin", 2), got.log
    assert type(exc).__name__ in got.log and _tx_hash(bad) in got.log
    assert _tx_hash(bad) in caplog.text
    # a failed tx as any other: the fee is paid, the sequence used, nothing else stays
    assert (ready.balance(ALICE), ready.sequence(ALICE)) == (alice0 - FEE, seq0 + 1)
    assert ready.app.check_invariants() == []


@pytest.mark.parametrize("where", ["validate", "signer"])
def test_a_crashing_check_refuses_the_tx_without_a_trace(
    ready: Chain, send_spec: Callable[..., None], where: str
) -> None:
    send_spec(**{where: _crash(RecursionError("maximum recursion depth exceeded"))})
    alice0, seq0 = ready.balance(ALICE), ready.sequence(ALICE)
    bad = ready.send(ALICE, BOB, 1, count=False)
    r = ready.check(bad)
    assert (r.codespace, r.code) == ("vcoin", 2) and "RecursionError" in r.log, r.log
    app = ready.app
    assert app.prepare_proposal([bad], 1 << 20) == []
    assert app.process_proposal([bad], 1 << 20) is False
    res = ready.block([bad])
    assert (res.tx_results[0].codespace, res.tx_results[0].code) == ("vcoin", 2)
    assert (ready.balance(ALICE), ready.sequence(ALICE)) == (alice0, seq0)


def test_a_crashing_decoder_fails_the_tx_not_the_block(
    ready: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cosmos, "decode", _crash(IndexError("oops")))
    tx = ready.send(ALICE, BOB, 1, count=False)
    assert ready.check(tx).code == 2
    assert ready.app.prepare_proposal([tx], 1 << 20) == []
    res = ready.block([tx])
    assert (res.tx_results[0].codespace, res.tx_results[0].code) == ("vcoin", 2)


def test_a_crashing_decoder_in_a_large_block_fails_the_tx_not_the_block(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a block of 64 txs or more is decoded ahead (chain/sigverify.py)
    c = Chain(make_app())
    c.app.sigverify.workers = 1
    txs = [c.send(ALICE, BOB, 1) for _ in range(70)]
    real = cosmos.decode

    def flaky(raw: bytes, *a: Any, **kw: Any) -> Any:
        if raw == txs[3]:
            raise IndexError("oops")
        return real(raw, *a, **kw)

    monkeypatch.setattr(cosmos, "decode", flaky)
    res = c.block(txs)
    assert [r.code for r in res.tx_results[:5]] == [0, 0, 0, 2, 32]


def test_check_stateless_raises_only_chain_errors(
    ready: Chain, send_spec: Callable[..., None]
) -> None:
    send_spec(validate=_crash(MemoryError()))
    with pytest.raises(MemoryError):  # a node out of memory stops rather than diverge
        ready.check(ready.send(ALICE, BOB, 1, count=False))
    send_spec(validate=_crash(ValueError("x")))
    rules = ready.app.ante.rules(ready.app.query_ctx())
    with pytest.raises(ChainError) as e:
        execute.check_stateless(ready.send(ALICE, BOB, 1, count=False), ready.app.routes, rules)
    assert e.value.kind is execute.ErrInternal


def test_process_proposal_does_not_repeat_the_checks_of_its_own_proposal(
    ready: Chain, counted: list[int]
) -> None:
    app = ready.app
    tx = ready.sign(ALICE, [post_job(ALICE)], count=False)
    assert app.prepare_proposal([tx], 1 << 20) == [tx]
    assert counted == [1]
    assert app.process_proposal([tx], 1 << 20) is True
    assert counted == [1]
    # another node's proposal, or one after the params changed, is checked in full
    other = ready.sign(ALICE, [post_job(ALICE, '{"a": 1}')], count=False)
    assert app.process_proposal([tx, other], 1 << 20) is True
    assert counted == [1, 1]


def test_a_refusal_quoting_a_huge_field_has_a_bounded_log(ready: Chain) -> None:
    huge = "z" * 100_000  # quoted by the refusal of a model name
    raw = ready.sign(ALICE, [post_job(ALICE, model=huge)], gas_limit=2_000_000, count=False)
    r = ready.check(raw)
    assert r.code != 0 and "model" in r.log and len(r.log) <= 2_048
    res = ready.block([raw])
    assert res.tx_results[0].code != 0 and len(res.tx_results[0].log) <= 2_048
