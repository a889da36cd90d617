"""Properties of the tx path under hostile input (``scripts/fuzz`` runs them longer).

Arbitrary bytes, mutated valid txs and signed txs whose fields hold deep,
huge or malformed content never make CheckTx, PrepareProposal,
ProcessProposal or FinalizeBlock raise; a block goes on around them, the good
tx in it succeeds, and state stays consistent: the supply equals the sum of
the balances and every module invariant holds after each block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.coins import DENOM
from chain.crypto import PrivateKey
from chain.results import TxResult
from modules.auth.msgs import MsgUpdateParams
from modules.bank import state as bank_state
from modules.jobs.msgs import MsgPostJob, MsgSubmitResult
from tests.fuzzing import fuzz
from tests.support.chain import (
    ALICE,
    BOB,
    Chain,
    assert_ok,
    make_genesis,
    msg_send,
    new_app,
    test_key,
)

SENDERS = 4


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    app = new_app(Path(tmp_path_factory.mktemp("props")) / "db", make_genesis(SENDERS))
    c = Chain(app)
    c.block([])
    return c


def _consistent(c: Chain) -> None:
    ctx = c.app.query_ctx()
    total = sum(n for _, d, n in bank_state.all_balances(ctx) if d == DENOM)
    assert total == bank_state.supply(ctx, DENOM)
    assert c.app.check_invariants() == []


def _well_formed(r: TxResult) -> None:
    assert r.code == 0 or (r.codespace and r.log), r


# -- hostile content ---------------------------------------------------------------------

deep_json = st.builds(
    lambda o, c, n, tail: o * n + tail + c * n,
    st.sampled_from(["[", '{"a":', '[{"b":']),
    st.sampled_from(["]", "}", "}]"]),
    st.integers(0, 6000),
    st.sampled_from(["", "1", "null", '"x"', "9" * 500, "NaN", "-1e99999"]),
)
junk_text = st.text(max_size=200) | st.text(alphabet='[]{}":,0123456789.eE-+ \\nul', max_size=2000)
field_text = deep_json | junk_text | st.just("{}")


def _post_job(key: PrivateKey, spec: str, extra: str) -> Any:
    return MsgPostJob(
        poster=key.bech32,
        task_type="text-generation",
        model=extra[:200] or "tiny-lm",
        inline_input=b"hi",
        spec=spec,
        max_price=extra[:100] or "1000",
    )


hostile_msgs = st.one_of(
    st.builds(lambda s, e: ("post", s, e), field_text, junk_text),
    st.builds(lambda s, e: ("params", s, e), field_text, junk_text),
    st.builds(lambda s, e: ("send", s, e), junk_text, junk_text),
    st.builds(lambda s, e: ("submit", s, e), junk_text, junk_text),
)


def _build(kind: str, text: str, extra: str, key: PrivateKey) -> Any:
    if kind == "post":
        return _post_job(key, text, extra)
    if kind == "params":
        return MsgUpdateParams(authority=key.bech32, module=extra[:50] or "jobs", params_json=text)
    if kind == "send":
        return msg_send(key, extra[:100] or BOB.bech32, text[:100] or "1")
    return MsgSubmitResult(worker=key.bech32, job_id=1, output_hash=text[:100], artifact_ref=extra)


def _run(c: Chain, bad: list[bytes]) -> None:
    app = c.app
    for raw in bad:
        _well_formed(c.check(raw))
    good = c.send(ALICE, BOB, 1, sequence=c.sequence(ALICE))
    kept = app.prepare_proposal([*bad, good], 1 << 22)
    assert good in kept
    assert app.process_proposal(kept, 1 << 22) is True
    app.process_proposal([*bad, good], 1 << 22)  # may refuse; must not raise
    res = c.block([*bad, good])
    for r in res.tx_results:
        _well_formed(r)
    assert_ok(res.tx_results[-1])
    _consistent(c)
    c.app._check = None  # the next example starts from the committed state


@fuzz(40)
@given(msgs=st.lists(hostile_msgs, min_size=1, max_size=3), who=st.integers(0, SENDERS - 1))
def test_signed_hostile_content_never_raises(shared: Chain, msgs: list[Any], who: int) -> None:
    key = test_key(who)
    raw = shared.sign(
        key,
        [_build(kind, text, extra, key) for kind, text, extra in msgs],
        gas_limit=2_000_000,
        count=False,
    )
    _run(shared, [raw])


@fuzz(60)
@given(raws=st.lists(st.binary(max_size=400), min_size=1, max_size=4))
def test_arbitrary_bytes_never_raise(shared: Chain, raws: list[bytes]) -> None:
    _run(shared, raws)


@fuzz(60)
@given(data=st.data())
def test_mutated_valid_txs_never_raise(shared: Chain, data: st.DataObject) -> None:
    key = test_key(data.draw(st.integers(0, SENDERS - 1)))
    kind, text, extra = data.draw(hostile_msgs)
    msg = data.draw(st.sampled_from([msg_send(key, BOB, 3), _build(kind, text, extra, key)]))
    raw = bytearray(shared.sign(key, [msg], gas_limit=2_000_000, count=False))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw)))
        how = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if how == "flip" and i < len(raw):
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "insert":
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del raw[i : i + data.draw(st.integers(1, 8))]
        else:
            del raw[i:]
    _run(shared, [bytes(raw)])
