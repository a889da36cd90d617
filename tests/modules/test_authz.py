"""The authz module over a real App: a grantee posts and cancels jobs for its
granter within a spend limit the chain enforces; expiry by height; revoke;
every refusal leaves state as it was; queries, genesis and determinism."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.message import Message

from app.app import App
from chain.coins import DENOM
from chain.crypto import PrivateKey, module_address
from chain.proto import type_url
from modules.authz.msgs import MsgExec, MsgGrant, MsgRevoke
from modules.bank.msgs import MsgSend
from modules.jobs import msgs as jm
from tests.support.chain import FEE, GAS_PRICE, events_of, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code, job_id_of

GRANTER, GRANTEE, OTHER = test_key(10), test_key(11), test_key(12)
POST, CANCEL = jm.POST_JOB_URL, jm.CANCEL_JOB_URL


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    return Market(make_app(market_genesis()))


def grant_msg(
    granter: PrivateKey = GRANTER,
    grantee: PrivateKey = GRANTEE,
    url: str = POST,
    limit: int | None = 10 * VCN,
    exp: int = 0,
) -> MsgGrant:
    g = MsgGrant(granter=granter.bech32, grantee=grantee.bech32, msg_type_url=url)
    if limit is not None:
        g.spend_limit.CopyFrom(Coin(denom=DENOM, amount=str(limit)))
    g.expiration_height = exp
    return g


def pack(msg: Message) -> AnyPb:
    return AnyPb(type_url=type_url(type(msg)), value=msg.SerializeToString(deterministic=True))


def exec_msg(*inner: Message, grantee: PrivateKey = GRANTEE) -> MsgExec:
    return MsgExec(grantee=grantee.bech32, msgs=[pack(x) for x in inner])


def left(m: Market, url: str = POST, granter: PrivateKey = GRANTER) -> int:
    g = m.q("authz", "grant", granter=granter.bech32, grantee=GRANTEE.bech32, msg_type_url=url)
    return int(g["spend_limit"]["amount"])


def escrow(m: Market) -> int:
    return m.balance(module_address("escrow"))


def snapshot(m: Market) -> Any:
    """What a refused MsgExec must leave as it was (the grantee's fee aside)."""
    g = m.app.export_genesis()
    return (
        g["authz"],
        g["jobs"],
        m.balance(GRANTER),
        m.balance(OTHER),
        escrow(m),
    )


def test_a_grant_lets_the_grantee_post_a_job_for_the_granter(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN)).code == 0
    before_granter, before_grantee, before_escrow = (
        m.balance(GRANTER),
        m.balance(GRANTEE),
        escrow(m),
    )
    r = m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=4 * VCN)))
    assert r.code == 0, r.log
    job = m.job(job_id_of(r))
    assert job.poster == GRANTER.address
    assert m.balance(GRANTER) == before_granter - 4 * VCN  # the granter pays the escrow
    assert m.balance(GRANTEE) == before_grantee - FEE  # the grantee only the fee
    assert escrow(m) == before_escrow + 4 * VCN
    assert left(m) == 6 * VCN
    (ev,) = events_of(r, "AuthzExec")
    assert ev.get("spend") == str(4 * VCN) and ev.get("spend_limit_left") == str(6 * VCN)
    assert ev.get("granter") == GRANTER.bech32 and ev.get("grantee") == GRANTEE.bech32


def test_spend_limit_just_under_at_and_over(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN)).code == 0
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=3 * VCN))).code == 0
    assert left(m) == 7 * VCN
    # just under what is left
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=7 * VCN - 1))).code == 0
    assert left(m) == 1
    # at what is left: the limit reaches 0
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=1))).code == 0
    assert left(m) == 0
    # over: refused, nothing applied, the limit unchanged
    before = snapshot(m)
    r = m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=1)))
    assert code(r) == ("authz", 8) and "has 0avcn left" in r.log
    assert snapshot(m) == before and left(m) == 0


def test_an_exec_over_the_limit_applies_none_of_its_messages(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN)).code == 0
    before = snapshot(m)
    r = m.tx(
        GRANTEE,
        exec_msg(m.post_msg(GRANTER, max_price=6 * VCN), m.post_msg(GRANTER, max_price=5 * VCN)),
    )
    assert code(r) == ("authz", 8) and "exec message 1" in r.log
    assert snapshot(m) == before and left(m) == 10 * VCN
    # the two together within the limit: both run, the limit goes down by both
    r = m.tx(
        GRANTEE,
        exec_msg(m.post_msg(GRANTER, max_price=6 * VCN), m.post_msg(GRANTER, max_price=4 * VCN)),
    )
    assert r.code == 0, r.log
    assert left(m) == 0 and len(events_of(r, "JobPosted")) == 2


def test_expiry_by_height_before_at_and_after(m: Market) -> None:
    exp = m.height + 3  # the grant lands at height+1; usable up to exp inclusive
    assert m.tx(GRANTER, grant_msg(exp=exp)).code == 0
    assert m.height + 1 < exp
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=1 * VCN))).code == 0  # before
    assert m.height + 1 == exp
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=1 * VCN))).code == 0  # at
    before = snapshot(m)
    r = m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=1 * VCN)))  # after
    assert code(r) == ("authz", 7) and f"expired at height {exp}" in r.log
    # the block after the expiry refuses it as expired, then its end-block hook prunes it
    pruned = [e for e in r.events if e.type == "AuthzGrantPruned"]
    assert pruned == []
    assert before[0]["grants"] and snapshot(m)[1:] == before[1:]
    assert m.q("authz", "grants", granter=GRANTER.bech32)["grants"] == []
    r = m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=1 * VCN)))
    assert code(r) == ("authz", 6)


def test_expired_grants_are_pruned_and_others_kept(m: Market) -> None:
    h = m.height
    assert m.tx(GRANTER, grant_msg(exp=h + 10)).code == 0
    assert m.tx(GRANTER, grant_msg(url=CANCEL, exp=h + 50)).code == 0
    assert m.tx(OTHER, grant_msg(granter=OTHER)).code == 0  # no expiry
    # replaced with a later expiry: the old queue entry goes
    assert m.tx(OTHER, grant_msg(granter=OTHER, url=CANCEL, exp=h + 20)).code == 0
    assert m.tx(OTHER, grant_msg(granter=OTHER, url=CANCEL, exp=h + 60)).code == 0
    assert m.height < h + 10
    blocks = m.blocks_until(h + 30)
    (at,) = [b.height for b in blocks if any(e.type == "AuthzGrantPruned" for e in b.events)]
    assert at == h + 11  # the first block after the grant's last usable height
    pruned = [dict(e.attributes) for b in blocks for e in b.events if e.type == "AuthzGrantPruned"]
    assert pruned == [
        {
            "granter": GRANTER.bech32,
            "grantee": GRANTEE.bech32,
            "msg_type_url": POST,
            "expiration_height": str(h + 10),
        }
    ]
    left_ = m.q("authz", "grants", grantee=GRANTEE.bech32)["grants"]
    assert {(g["granter"], g["msg_type_url"]) for g in left_} == {
        (GRANTER.bech32, CANCEL),
        (OTHER.bech32, POST),
        (OTHER.bech32, CANCEL),
    }


def test_a_grant_that_has_already_expired_is_refused(m: Market) -> None:
    m.blocks_until(5)
    r = m.tx(GRANTER, grant_msg(exp=m.height))  # lands at height+1, after it
    assert code(r) == ("authz", 4) and "before the current height" in r.log
    assert m.q("authz", "grants", granter=GRANTER.bech32)["grants"] == []


def test_revoke_stops_the_grantee_at_once(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0
    revoke = MsgRevoke(granter=GRANTER.bech32, grantee=GRANTEE.bech32, msg_type_url=POST)
    post = exec_msg(m.post_msg(GRANTER, max_price=1 * VCN))
    b = m.block([m.sign(GRANTER, [revoke]), m.sign(GRANTEE, [post])])  # same block
    assert b.tx_results[0].code == 0
    assert events_of(b.tx_results[0], "AuthzRevoke")
    assert code(b.tx_results[1]) == ("authz", 6)
    assert m.q("authz", "grants", granter=GRANTER.bech32)["grants"] == []
    r = m.tx(GRANTER, revoke)  # nothing left to revoke
    assert code(r) == ("authz", 6)


def test_a_new_grant_replaces_the_old_one(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN)).code == 0
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=4 * VCN))).code == 0
    assert left(m) == 6 * VCN
    r = m.tx(GRANTER, grant_msg(limit=3 * VCN, exp=1000))
    assert r.code == 0 and events_of(r, "AuthzGrant")
    assert left(m) == 3 * VCN
    (g,) = m.q("authz", "grants", granter=GRANTER.bech32)["grants"]
    assert g["expiration_height"] == "1000"


def test_the_refund_of_a_cancel_goes_to_the_granter_and_spends_nothing(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN)).code == 0
    assert m.tx(GRANTER, grant_msg(url=CANCEL, limit=None)).code == 0
    start_granter, start_grantee = m.balance(GRANTER), m.balance(GRANTEE)
    job_id = job_id_of(m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=5 * VCN))))
    r = m.tx(GRANTEE, exec_msg(jm.MsgCancelJob(poster=GRANTER.bech32, job_id=job_id)))
    assert r.code == 0, r.log
    assert m.balance(GRANTER) == start_granter  # the whole escrow back to the poster
    assert m.balance(GRANTEE) == start_grantee - 2 * FEE
    assert left(m) == 5 * VCN  # a refund does not give the budget back
    assert left(m, CANCEL) == 0
    (ev,) = events_of(r, "AuthzExec")
    assert ev.get("spend") == "0" and ev.get("msg_type_url") == CANCEL


def _refused(m: Market, msg: Message, want: tuple[str, int], text: str) -> None:
    before = snapshot(m)
    r = m.tx(GRANTEE, msg)
    assert code(r) == want, r.log
    assert text in r.log, r.log
    assert snapshot(m) == before


def test_an_ungranted_type_is_refused(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(url=CANCEL)).code == 0  # cancel only
    _refused(m, exec_msg(m.post_msg(GRANTER, max_price=VCN)), ("authz", 6), "has granted")


def test_an_inner_message_refused_by_its_own_handler_refuses_the_exec(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0
    unknown_model = m.post_msg(GRANTER, max_price=VCN, model="no-such-model")
    _refused(
        m,
        exec_msg(m.post_msg(GRANTER, max_price=VCN), unknown_model),
        code(m.tx(GRANTER, unknown_model)),
        "exec message 1: ",
    )
    assert left(m) == 10 * VCN


def test_another_granters_message_is_refused(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0
    _refused(m, exec_msg(m.post_msg(OTHER, max_price=VCN)), ("authz", 6), OTHER.bech32)
    # a granted message next to it does not carry it through
    _refused(
        m,
        exec_msg(m.post_msg(GRANTER, max_price=VCN), m.post_msg(OTHER, max_price=VCN)),
        ("authz", 6),
        OTHER.bech32,
    )
    assert left(m) == 10 * VCN


def test_only_job_messages_are_grantable(m: Market) -> None:
    send_url = type_url(MsgSend)
    r = m.tx(GRANTER, grant_msg(url=send_url))
    assert code(r) == ("authz", 5) and "only job messages are grantable" in r.log
    assert POST in r.log and CANCEL in r.log
    send = MsgSend(from_address=GRANTER.bech32, to_address=GRANTEE.bech32)
    send.amount.append(Coin(denom=DENOM, amount="1"))
    _refused(m, exec_msg(send), ("authz", 5), "cannot be granted")
    # nor is a MsgExec inside a MsgExec
    _refused(m, exec_msg(exec_msg(m.post_msg(GRANTER), grantee=OTHER)), ("authz", 5), "MsgExec")


def test_a_message_signed_by_the_grantee_itself_is_refused(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0
    _refused(
        m,
        exec_msg(m.post_msg(GRANTEE, max_price=VCN)),
        ("authz", 10),
        "signed by the grantee",
    )


def test_too_many_inner_messages_are_refused(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=100 * VCN)).code == 0
    nine = [m.post_msg(GRANTER, max_price=VCN) for _ in range(9)]
    _refused(m, exec_msg(*nine), ("authz", 9), "at most 8")
    # 8 is the default max_exec_msgs; 8 posts need more than the default gas
    gas = 2_000_000
    raw = m.sign(GRANTEE, [exec_msg(*nine[:8])], gas_limit=gas, fee_amount=gas * GAS_PRICE)
    r = m.deliver_one(raw)
    assert r.code == 0, r.log
    assert left(m) == 92 * VCN


def test_malformed_inner_messages_are_refused(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0
    good = m.post_msg(GRANTER, max_price=VCN)
    junk = MsgExec(grantee=GRANTEE.bech32, msgs=[AnyPb(type_url=POST, value=b"\xff\xff\xff")])
    _refused(m, junk, ("authz", 10), "not valid protobuf")
    # non-canonical: the same field twice
    raw = good.SerializeToString(deterministic=True)
    twice = MsgExec(grantee=GRANTEE.bech32, msgs=[AnyPb(type_url=POST, value=raw + raw[:2])])
    _refused(m, twice, ("authz", 10), "exec message 0")
    unknown = MsgExec(grantee=GRANTEE.bech32, msgs=[AnyPb(type_url="/x.y.v1.MsgNope", value=b"")])
    _refused(m, unknown, ("authz", 5), "cannot be granted")
    _refused(m, MsgExec(grantee=GRANTEE.bech32), ("authz", 10), "no messages")
    # the inner message's own checks run too
    bad = m.post_msg(GRANTER, max_price=VCN)
    bad.max_price = "0"
    _refused(m, exec_msg(bad), ("jobs", 5), "exec message 0: max_price must be positive")


def test_queries_by_granter_by_grantee_and_one(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg(limit=5 * VCN)).code == 0
    assert m.tx(GRANTER, grant_msg(url=CANCEL, limit=None)).code == 0
    assert m.tx(OTHER, grant_msg(granter=OTHER, limit=7 * VCN)).code == 0
    by_granter = m.q("authz", "grants", granter=GRANTER.bech32)["grants"]
    assert {g["msg_type_url"] for g in by_granter} == {POST, CANCEL}
    by_grantee = m.q("authz", "grants", grantee=GRANTEE.bech32)["grants"]
    assert {(g["granter"], g["msg_type_url"]) for g in by_grantee} == {
        (GRANTER.bech32, POST),
        (GRANTER.bech32, CANCEL),
        (OTHER.bech32, POST),
    }
    both = m.q("authz", "grants", granter=OTHER.bech32, grantee=GRANTEE.bech32)["grants"]
    assert [g["spend_limit"]["amount"] for g in both] == [str(7 * VCN)]
    one = m.q("authz", "grant", granter=OTHER.bech32, grantee=GRANTEE.bech32, msg_type_url=POST)
    assert one["spend_limit"] == {"denom": DENOM, "amount": str(7 * VCN)}
    assert one["expired"] is False
    assert m.q("authz", "params") == {"max_exec_msgs": "8"}


def test_max_exec_msgs_is_a_param(m: Market) -> None:
    from tests.support.chain import PLATFORM

    assert m.update_params(PLATFORM, "authz", {"max_exec_msgs": "1"}).code == 0
    assert m.tx(GRANTER, grant_msg()).code == 0
    two = exec_msg(m.post_msg(GRANTER, max_price=VCN), m.post_msg(GRANTER, max_price=VCN))
    _refused(m, two, ("authz", 9), "at most 1")


def test_genesis_round_trip(m: Market, make_app: Callable[..., App]) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN, exp=500)).code == 0
    assert m.tx(GRANTER, grant_msg(url=CANCEL, limit=None)).code == 0
    assert m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=4 * VCN))).code == 0
    exported = m.app.export_genesis()["authz"]
    assert len(exported["grants"]) == 2
    post = next(g for g in exported["grants"] if g["msg_type_url"] == POST)
    assert post["spend_limit"]["amount"] == str(6 * VCN) and post["expiration_height"] == "500"
    doc = market_genesis()
    doc["app_state"]["authz"] = exported
    other = make_app(doc)
    assert other.export_genesis()["authz"] == exported
    assert other.check_invariants() == []


def test_genesis_refuses_bad_grants(make_app: Callable[..., App]) -> None:
    def with_grant(**kw: Any) -> dict[str, Any]:
        g = {
            "granter": GRANTER.bech32,
            "grantee": GRANTEE.bech32,
            "msg_type_url": POST,
            "spend_limit": {"denom": DENOM, "amount": "1"},
            "expiration_height": "0",
        }
        doc = market_genesis()
        doc["app_state"]["authz"] = {"grants": [{**g, **kw}]}
        return doc

    for bad in (
        {"msg_type_url": type_url(MsgSend)},
        {"grantee": GRANTER.bech32},
        {"spend_limit": {"denom": "uatom", "amount": "1"}},
        {"granter": "nope"},
        {"expiration_height": str(2**64)},
        {"expiration_height": "-1"},
    ):
        with pytest.raises(Exception, match="grant"):
            make_app(with_grant(**bad))


def test_same_txs_same_app_hash(m: Market, make_app: Callable[..., App]) -> None:
    assert m.tx(GRANTER, grant_msg(limit=10 * VCN, exp=100)).code == 0
    assert m.tx(GRANTER, grant_msg(url=CANCEL, limit=None)).code == 0
    job_id = job_id_of(m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=4 * VCN))))
    m.tx(GRANTEE, exec_msg(m.post_msg(GRANTER, max_price=40 * VCN)))  # refused
    assert m.tx(GRANTEE, exec_msg(jm.MsgCancelJob(poster=GRANTER.bech32, job_id=job_id))).code == 0
    revoke = MsgRevoke(granter=GRANTER.bech32, grantee=GRANTEE.bech32, msg_type_url=POST)
    assert m.tx(GRANTER, revoke).code == 0
    replica = make_app(market_genesis())
    m.replay(replica)
    assert replica.info().last_block_app_hash == m.app_hash
    assert replica.export_genesis()["authz"] == m.app.export_genesis()["authz"]


def test_a_stored_grant_pays_gas_like_any_state_write(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0  # the first tx also stores the public key
    r = m.tx(GRANTER, grant_msg(url=CANCEL))
    assert r.code == 0
    # two writes (the grant and its grantee index), each 2,000 gas flat and 30 a byte
    assert r.gas_used > 2 * (2_000 + 30 * 60)
    # the same grant to another grantee with 2,000 gas less runs out in its writes
    low = r.gas_used - 2_000
    raw = m.sign(GRANTER, [grant_msg(grantee=OTHER)], gas_limit=low, fee_amount=low * GAS_PRICE)
    r2 = m.deliver_one(raw)
    assert (r2.codespace, r2.code) == ("sdk", 11) and "out of gas" in r2.log
    assert m.q("authz", "grants", grantee=OTHER.bech32)["grants"] == []


def test_a_malformed_exec_is_refused_at_check_tx_without_a_fee(m: Market) -> None:
    assert m.tx(GRANTER, grant_msg()).code == 0
    junk = MsgExec(grantee=GRANTEE.bech32, msgs=[AnyPb(type_url=POST, value=b"\xff")])
    before = m.balance(GRANTEE)
    r = m.check(m.sign(GRANTEE, [junk], count=False))
    assert code(r) == ("authz", 10)
    r = m.check(m.sign(GRANTEE, [exec_msg(m.post_msg(GRANTEE))], count=False))
    assert code(r) == ("authz", 10) and "signed by the grantee" in r.log
    assert m.balance(GRANTEE, pending=True) == before
