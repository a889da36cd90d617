"""Bad transactions: each is refused with a stable (codespace, code) and a message
that says what is wrong, and none changes state, in CheckTx and inside a block."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, TxBody, TxRaw
from google.protobuf.empty_pb2 import Empty
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.app import App
from chain.coins import DENOM
from chain.crypto import PrivateKey, module_address, to_bech32
from chain.errors import registered
from chain.tx.sign import pack
from genesis.devnet import CHAIN_ID
from modules.bank import state as bank_state
from tests.support.chain import (
    ALICE,
    BOB,
    FEE,
    VCN,
    Chain,
    assert_ok,
    block_hash,
    make_genesis,
    msg_send,
    new_app,
    run_block,
    test_key,
)

FEE_COLLECTOR = to_bech32(module_address("fee_collector"))
# varint field 111 = 1: a field no Cosmos tx type has
UNKNOWN_FIELD = b"\xf8\x06\x01"


def _resign(chain: Chain, key: PrivateKey, body: bytes, auth: bytes | None = None) -> bytes:
    """Sign hand-made body bytes (and auth info) correctly, so only their content is bad."""
    from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import SignDoc

    if auth is None:
        good = TxRaw.FromString(chain.send(key, BOB, 1, count=False))
        auth = good.auth_info_bytes
    doc = SignDoc(
        body_bytes=body,
        auth_info_bytes=auth,
        chain_id=CHAIN_ID,
        account_number=chain.account_number(key),
    )
    sig = key.sign(doc.SerializeToString())
    return bytes(TxRaw(body_bytes=body, auth_info_bytes=auth, signatures=[sig]).SerializeToString())


def _body(*msgs: object, memo: str = "") -> TxBody:
    return TxBody(messages=[pack(m) for m in msgs], memo=memo)  # type: ignore[arg-type]


# -- the cases -------------------------------------------------------------------
# Each builder gets a funded key with no tx yet and returns the bad tx's bytes; it
# may commit set-up blocks first. ``stage`` says where it is refused: "decode" and
# "ante" refusals leave no trace; a "msg" refusal in a block still pays the fee and
# uses the sequence (as in the Cosmos SDK), in CheckTx it leaves no trace either.


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Chain, PrivateKey], bytes]
    codespace: str
    code: int
    says: str
    stage: str


def _truncated(c: Chain, k: PrivateKey) -> bytes:
    return c.send(k, BOB, 1, count=False)[:-10]


def _bad_signature(c: Chain, k: PrivateKey) -> bytes:
    tx = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    sig = bytearray(tx.signatures[0])
    sig[5] ^= 0x01
    tx.signatures[0] = bytes(sig)
    return bytes(tx.SerializeToString())


def _replayed(c: Chain, k: PrivateKey) -> bytes:
    tx = c.send(k, BOB, 1)
    assert_ok(c.deliver_one(tx))
    return tx


def _poor(c: Chain, k: PrivateKey) -> bytes:
    # a new account holding 1 avcn cannot pay any fee
    poor = PrivateKey.from_seed(b"poor " + k.secret)
    assert_ok(c.deliver_one(c.send(k, poor, 1)))
    return c.sign(poor, [msg_send(poor, BOB, 1)], count=False)


def _oversize(c: Chain, k: PrivateKey) -> bytes:
    return c.send(k, BOB, 1, memo="x" * 140_000, count=False)


def _missing_signature(c: Chain, k: PrivateKey) -> bytes:
    tx = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    del tx.signatures[:]
    return bytes(tx.SerializeToString())


def _unknown_body_field(c: Chain, k: PrivateKey) -> bytes:
    body = _body(msg_send(k, BOB, 1)).SerializeToString() + UNKNOWN_FIELD
    return _resign(c, k, body)


def _unknown_msg_field(c: Chain, k: PrivateKey) -> bytes:
    any_msg = pack(msg_send(k, BOB, 1))
    any_msg.value = any_msg.value + UNKNOWN_FIELD
    return _resign(c, k, TxBody(messages=[any_msg]).SerializeToString())


def _unknown_auth_field(c: Chain, k: PrivateKey) -> bytes:
    good = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    auth = AuthInfo.FromString(good.auth_info_bytes).SerializeToString() + UNKNOWN_FIELD
    return _resign(c, k, good.body_bytes, auth)


def _unknown_msg_type(c: Chain, k: PrivateKey) -> bytes:
    return c.sign(k, [Empty()], count=False)


def _amount(text: str) -> Callable[[Chain, PrivateKey], bytes]:
    return lambda c, k: c.sign(k, [msg_send(k, BOB, text)], count=False)


def _send(**kw: object) -> Callable[[Chain, PrivateKey], bytes]:
    return lambda c, k: c.send(k, BOB, 1, count=False, **kw)


def _auth_edit(edit: Callable[[AuthInfo], None]) -> Callable[[Chain, PrivateKey], bytes]:
    """A correctly signed send whose auth info was changed by ``edit``."""

    def build(c: Chain, k: PrivateKey) -> bytes:
        good = TxRaw.FromString(c.send(k, BOB, 1, count=False))
        auth = AuthInfo.FromString(good.auth_info_bytes)
        edit(auth)
        return _resign(c, k, good.body_bytes, auth.SerializeToString())

    return build


def _body_edit(edit: Callable[[TxBody], None]) -> Callable[[Chain, PrivateKey], bytes]:
    """A correctly signed send whose body was changed by ``edit``."""

    def build(c: Chain, k: PrivateKey) -> bytes:
        body = _body(msg_send(k, BOB, 1))
        edit(body)
        return _resign(c, k, body.SerializeToString())

    return build


def _two_signatures(c: Chain, k: PrivateKey) -> bytes:
    good = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    auth = AuthInfo.FromString(good.auth_info_bytes)
    auth.signer_infos.append(auth.signer_infos[0])
    tx = TxRaw.FromString(_resign(c, k, good.body_bytes, auth.SerializeToString()))
    tx.signatures.append(tx.signatures[0])
    return bytes(tx.SerializeToString())


def _extra_signature(c: Chain, k: PrivateKey) -> bytes:
    tx = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    tx.signatures.append(tx.signatures[0])
    return bytes(tx.SerializeToString())


def _amino_mode(a: AuthInfo) -> None:
    a.signer_infos[0].mode_info.single.mode = SignMode.SIGN_MODE_LEGACY_AMINO_JSON


def _ed25519_key(a: AuthInfo) -> None:
    a.signer_infos[0].public_key.type_url = "/cosmos.crypto.ed25519.PubKey"


def _short_key(a: AuthInfo) -> None:
    pk = PubKey.FromString(a.signer_infos[0].public_key.value)
    a.signer_infos[0].public_key.value = PubKey(key=pk.key[:32]).SerializeToString()


def _no_key(a: AuthInfo) -> None:
    a.signer_infos[0].ClearField("public_key")


def _no_msgs(b: TxBody) -> None:
    b.ClearField("messages")
    b.memo = "a body with a memo and nothing to do"


def _fee_of(raw: bytes) -> int:
    auth = AuthInfo.FromString(TxRaw.FromString(raw).auth_info_bytes)
    return sum(int(c.amount) for c in auth.fee.amount)


def _no_body(c: Chain, k: PrivateKey) -> bytes:
    good = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    return _resign(c, k, b"", good.auth_info_bytes)


def _other_fee_denom(c: Chain, k: PrivateKey) -> bytes:
    good = TxRaw.FromString(c.send(k, BOB, 1, count=False))
    auth = AuthInfo.FromString(good.auth_info_bytes)
    del auth.fee.amount[:]
    auth.fee.amount.append(Coin(denom="uatom", amount=str(FEE)))
    return _resign(c, k, good.body_bytes, auth.SerializeToString())


CASES = [
    Case("truncated protobuf", _truncated, "sdk", 2, "not valid protobuf", "decode"),
    Case("empty tx", lambda c, k: b"", "sdk", 2, "empty tx", "decode"),
    Case("TxRaw without a body", lambda c, k: _no_body(c, k), "sdk", 2, "empty body", "decode"),
    Case("bad ethereum tx", lambda c, k: b"\x02" + bytes(40), "evm", 4, "malformed", "decode"),
    Case("bad signature", _bad_signature, "sdk", 4, "signature verification failed", "ante"),
    Case("wrong chain id", _send(chain_id="vcoin-other-9"), "sdk", 4, "chain-id", "ante"),
    Case("wrong account number", _send(account_number=12345), "sdk", 4, "account number", "ante"),
    Case("replayed sequence", _replayed, "sdk", 32, "expected 1, got 0", "ante"),
    Case("future sequence", _send(sequence=5), "sdk", 32, "expected 0, got 5", "ante"),
    Case("unknown signer", lambda c, k: _unknown_signer(c), "sdk", 9, "does not exist", "ante"),
    Case("insufficient funds", lambda c, k: c.send(k, BOB, 2_000_000 * VCN, count=False),
         "sdk", 5, "needs", "msg"),
    Case("cannot pay the fee", _poor, "sdk", 5, "cannot pay the fee", "ante"),
    Case("amount zero", _amount("0"), "sdk", 10, "zero", "decode"),
    Case("amount negative", _amount("-5"), "sdk", 10, "non-negative whole number", "decode"),
    Case("amount 2^256", _amount(str(1 << 256)), "sdk", 10, "over 2^256-1", "decode"),
    Case("amount 10^100", _amount("1" + "0" * 100), "sdk", 10, "whole number", "decode"),
    Case("amount non-numeric", _amount("ten"), "sdk", 10, "whole number", "decode"),
    Case("amount decimal", _amount("1.5"), "sdk", 10, "whole number", "decode"),
    Case("amount with a newline", _amount("5\n"), "sdk", 10, "whole number", "decode"),
    Case("oversize tx", _oversize, "sdk", 21, "the limit is 131072", "decode"),
    Case("unknown message type", _unknown_msg_type, "sdk", 6, "google.protobuf.Empty", "decode"),
    Case("missing signature", _missing_signature, "sdk", 15, "not signed", "decode"),
    Case("fee below min gas price", _send(fee_amount=FEE - 1), "sdk", 13, "raise the fee", "ante"),
    Case("no fee", _send(fee_amount=0), "sdk", 13, "raise the fee", "ante"),
    Case("gas limit 0", _send(gas_limit=0), "sdk", 41, "gas limit 0", "decode"),
    Case("gas limit over max", _send(gas_limit=10**9), "sdk", 41, "between 1 and", "decode"),
    Case("fee in another denom", _other_fee_denom, "sdk", 18, f"paid in {DENOM}", "decode"),
    Case("memo over the limit", _send(memo="m" * 257), "sdk", 12, "at most 256", "decode"),
    Case("send to a module account", lambda c, k: c.send(k, FEE_COLLECTOR, 1, count=False),
         "bank", 3, "module account", "msg"),
    Case("bad recipient address", lambda c, k: c.send(k, "vcoin1xyz", 1, count=False),
         "sdk", 7, "to_address", "decode"),
    Case("signed by someone else", lambda c, k: c.sign(k, [msg_send(BOB, ALICE, 1)], count=False),
         "sdk", 8, "does not belong", "decode"),
    Case("unknown field in body", _unknown_body_field, "sdk", 2, "does not know", "decode"),
    Case("unknown field in message", _unknown_msg_field, "sdk", 2, "does not know", "decode"),
    Case("unknown field in auth info", _unknown_auth_field, "sdk", 2, "does not know", "decode"),
    Case("timed out", _send(timeout_height=1), "sdk", 30, "timed out", "ante"),
    Case("out of gas in the ante", _send(gas_limit=5_000), "sdk", 11, "out of gas", "ante"),
    Case("out of gas in the message", _send(gas_limit=30_000), "sdk", 11, "out of gas", "msg"),
    Case("fee payer", _auth_edit(lambda a: setattr(a.fee, "payer", BOB.bech32)),
         "sdk", 37, "fee payer", "decode"),
    Case("fee granter", _auth_edit(lambda a: setattr(a.fee, "granter", BOB.bech32)),
         "sdk", 37, "fee granter", "decode"),
    Case("tip", _auth_edit(lambda a: setattr(a.tip, "tipper", BOB.bech32)),
         "sdk", 37, "tip", "decode"),
    Case("unordered", _body_edit(lambda b: setattr(b, "unordered", True)),
         "sdk", 37, "unordered", "decode"),
    Case("two signatures", _two_signatures, "sdk", 14, "at most 1 signer", "decode"),
    Case("more signatures than signers", _extra_signature, "sdk", 14, "at most 1 signer",
         "decode"),
    Case("amino-json sign mode", _auth_edit(_amino_mode), "sdk", 37, "SIGN_MODE_DIRECT", "decode"),
    Case("ed25519 public key", _auth_edit(_ed25519_key), "sdk", 8, "public key type", "decode"),
    Case("short public key", _auth_edit(_short_key), "sdk", 8, "33-byte", "decode"),
    Case("no public key on a new account", _auth_edit(_no_key), "sdk", 8, "include it in the tx",
         "ante"),
    Case("no messages", _body_edit(_no_msgs), "sdk", 18, "no messages", "decode"),
    Case("65 messages", _body_edit(lambda b: b.messages.extend([b.messages[0]] * 64)),
         "sdk", 18, "at most 64", "decode"),
    Case("timeout timestamp", _body_edit(lambda b: b.timeout_timestamp.FromSeconds(1)),
         "sdk", 37, "timeout_timestamp", "decode"),
]  # fmt: skip


def _unknown_signer(c: Chain) -> bytes:
    stranger = PrivateKey.from_seed(b"never funded")
    return c.sign(stranger, [msg_send(stranger, BOB, 1)], sequence=0, account_number=0)


def _snapshot(c: Chain, keys: list[PrivateKey]) -> tuple[object, ...]:
    """Everything a user could see of these accounts, committed and pending."""
    who = [k.address for k in keys] + [BOB.address, module_address("fee_collector")]
    return (
        c.app.info(),
        tuple(c.balance(a) for a in who),
        tuple(c.balance(a, pending=True) for a in who),
        tuple(c.sequence(a) for a in who),
        tuple(c.sequence(a, pending=True) for a in who),
        bank_state.total_supply(c.app.check_ctx()),
    )


@pytest.fixture
def ready(chain: Chain) -> Chain:
    # one block so that timeout_height=1 is in the past for the next
    chain.block([])
    return chain


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_in_check_tx_without_changing_state(ready: Chain, case: Case) -> None:
    c = ready
    key = test_key(1)
    raw = case.build(c, key)
    before = _snapshot(c, [key])
    r = c.check(raw)
    assert (r.codespace, r.code) == (case.codespace, case.code), r.log
    assert (r.codespace, r.code) in registered()
    assert case.says in r.log, r.log
    assert _snapshot(c, [key]) == before
    # the sender can go on: a valid tx is accepted and lands in the next block
    bob0 = c.balance(BOB)
    good = c.send(key, BOB, 7)
    assert_ok(c.check(good))
    assert_ok(c.block([good]).tx_results[0])
    assert c.balance(BOB) == bob0 + 7


def test_refused_inside_a_block_while_others_succeed(
    ready: Chain, make_app: Callable[..., App]
) -> None:
    c = ready
    keys = {case.name: test_key(i) for i, case in enumerate(CASES)}
    bad = [case.build(c, keys[case.name]) for case in CASES]  # may commit set-up blocks
    before = {
        case.name: (c.balance(keys[case.name]), c.sequence(keys[case.name])) for case in CASES
    }
    bob0, alice0 = c.balance(BOB), c.balance(ALICE)
    first, last = c.send(ALICE, BOB, 100), c.send(ALICE, BOB, 200)
    res = c.block([first, *bad, last])
    assert_ok(res.tx_results[0])
    assert_ok(res.tx_results[-1])
    assert c.balance(BOB) == bob0 + 300
    assert c.balance(ALICE) == alice0 - 300 - 2 * FEE
    for case, r in zip(CASES, res.tx_results[1:-1], strict=True):
        assert (r.codespace, r.code) == (case.codespace, case.code), f"{case.name}: {r.log}"
        assert case.says in r.log, f"{case.name}: {r.log}"
        bal0, seq0 = before[case.name]
        after = (c.balance(keys[case.name]), c.sequence(keys[case.name]))
        if case.stage == "msg":
            assert after == (bal0 - _fee_of(bad[CASES.index(case)]), seq0 + 1), case.name
        else:
            assert after == (bal0, seq0), case.name
    assert c.app.check_invariants() == []
    # the refused txs left nothing behind: a twin fed the block without them, under
    # the same header (the EVM keeps block hashes in state for BLOCKHASH), agrees
    twin = make_app()
    *earlier, (block_txs, t) = c.history
    for txs, ti in earlier:
        run_block(twin, txs, ti)
    charged = [b for b, case in zip(bad, CASES, strict=True) if case.stage == "msg"]
    height = c.app.info().last_block_height
    run_block(twin, [first, *charged, last], t, block_hash(height, block_txs))
    assert twin.info() == c.app.info()


def test_duplicate_tx_in_one_block_runs_once(chain: Chain) -> None:
    bob0 = chain.balance(BOB)
    tx = chain.send(ALICE, BOB, 5)
    res = chain.block([tx, tx])
    assert_ok(res.tx_results[0])
    assert (res.tx_results[1].codespace, res.tx_results[1].code) == ("sdk", 32)
    assert chain.balance(BOB) == bob0 + 5


def test_second_pending_tx_needs_the_next_sequence(chain: Chain) -> None:
    t0 = chain.send(ALICE, BOB, 1)
    t1 = chain.send(ALICE, BOB, 1)
    assert_ok(chain.check(t0))
    again = chain.check(t0)
    assert (again.codespace, again.code) == ("sdk", 32) and "expected 1, got 0" in again.log
    assert_ok(chain.check(t1))


# -- random input ----------------------------------------------------------------

HYPO = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """One App for the random-input tests: every example must leave it unchanged."""
    app = new_app(Path(tmp_path_factory.mktemp("bad")) / "db", make_genesis(2))
    c = Chain(app)
    c.block([])
    return c


def _refused_without_trace(c: Chain, raw: bytes) -> None:
    before = _snapshot(c, [ALICE])
    r = c.check(raw)
    assert r.code != 0
    assert (r.codespace, r.code) in registered(), r
    assert r.log
    assert _snapshot(c, [ALICE]) == before


@HYPO
@given(raw=st.binary(max_size=600))
def test_random_bytes_are_refused(shared: Chain, raw: bytes) -> None:
    _refused_without_trace(shared, raw)


@HYPO
@given(raw=st.binary(max_size=600))
def test_random_bytes_behind_a_txraw_tag_are_refused(shared: Chain, raw: bytes) -> None:
    # 0x0a starts a TxRaw, so these reach the protobuf decoder
    _refused_without_trace(shared, b"\x0a" + raw)


@HYPO
@given(data=st.data())
def test_damaged_valid_tx_is_refused(shared: Chain, data: st.DataObject) -> None:
    # signed for the pending state, so undamaged it would be accepted
    good = shared.send(ALICE, BOB, 1, sequence=shared.sequence(ALICE, pending=True))
    how = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    # the tx's length changes with the sequence, so draw a position independent of it
    i = data.draw(st.integers(0, 1 << 16)) % len(good)
    if how == "flip":
        bit = data.draw(st.integers(0, 7))
        raw = good[:i] + bytes([good[i] ^ (1 << bit)]) + good[i + 1 :]
    elif how == "truncate":
        raw = good[:i]
    elif how == "insert":
        raw = good[:i] + bytes([data.draw(st.integers(0, 255))]) + good[i:]
    else:
        raw = good[:i] + good[i + 1 :]
    _refused_without_trace(shared, raw)
    assert_ok(shared.check(good))  # the undamaged tx still goes through


@HYPO
@given(raw=st.binary(max_size=400))
def test_random_bytes_in_a_block_fail_alone(shared: Chain, raw: bytes) -> None:
    app = shared.app
    from chain.context import BlockInfo

    block = BlockInfo(CHAIN_ID, app.info().last_block_height + 1, app.last_block_time_ns + 1)
    good = shared.send(ALICE, BOB, 1, count=False)
    res = app.finalize_block(block, [raw, good])
    assert res.tx_results[0].code != 0
    assert_ok(res.tx_results[1])
    only_good = app.finalize_block(block, [good])
    assert only_good.app_hash == res.app_hash
