"""One signed transaction, one accepted encoding (ADR-027).

A signed tx is re-encoded each way a protobuf parser would still read it:
unknown fields, fields out of order or repeated, non-minimal varints, default
values written out, in TxRaw, TxBody, AuthInfo and the messages inside. Every
re-encoding is refused, in CheckTx and in a block, with an error that says
what is wrong; the canonical encoding is accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxBody, TxRaw
from hypothesis import given
from hypothesis import strategies as st

from chain.crypto import PrivateKey
from chain.tx.canonical import explain
from genesis.devnet import CHAIN_ID
from tests.fuzzing import fuzz
from tests.support.chain import ALICE, BOB, Chain, assert_ok

# -- a small protobuf wire codec, to write what no encoder writes ------------------

Field = tuple[int, int, bytes]  # (number, wire type, the value's bytes as written)


def varint(n: int, pad: int = 0) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n or pad:
            out.append(b | 0x80)
        else:
            out.append(b)
            break
        if not n:
            pad -= 1
            if not pad:
                out.append(0)
                break
    return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields(data: bytes) -> list[Field]:
    """Split a message into its fields; length-delimited values without their length."""
    out: list[Field] = []
    pos = 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            start = pos
            _, pos = read_varint(data, pos)
            out.append((num, wire, data[start:pos]))
        elif wire == 2:
            n, pos = read_varint(data, pos)
            out.append((num, wire, data[pos : pos + n]))
            pos += n
        else:
            size = 8 if wire == 1 else 4
            out.append((num, wire, data[pos : pos + size]))
            pos += size
    return out


def encode(fs: list[Field], pad_tag: int = 0, pad_len: int = 0) -> bytes:
    out = bytearray()
    for num, wire, value in fs:
        out += varint(num << 3 | wire, pad_tag)
        if wire == 2:
            out += varint(len(value), pad_len)
        out += value
    return bytes(out)


def assert_codec_round_trips(data: bytes) -> None:
    assert encode(fields(data)) == data


# -- re-encodings ---------------------------------------------------------------------

Reencode = Callable[[bytes], bytes]


def _swap_first_two(data: bytes) -> bytes:
    fs = fields(data)
    return encode([fs[1], fs[0], *fs[2:]])


def _repeat_first(data: bytes) -> bytes:
    fs = fields(data)
    return encode([fs[0], *fs])


def _repeat_first_with_junk_before(data: bytes) -> bytes:
    # the parser keeps the last occurrence, so junk in the first one is invisible
    fs = fields(data)
    num, wire, value = fs[0]
    junk = b"\x00" if wire == 0 else b"junk"
    return encode([(num, wire, junk), *fs])


def _repeat(num: int) -> Reencode:
    """Write field ``num`` twice in a row."""

    def go(data: bytes) -> bytes:
        fs = fields(data)
        i = next(i for i, f in enumerate(fs) if f[0] == num)
        return encode([*fs[: i + 1], fs[i], *fs[i + 1 :]])

    return go


def _append(field: bytes) -> Reencode:
    return lambda data: data + field


def _pad(tag: int = 0, length: int = 0) -> Reencode:
    return lambda data: encode(fields(data), tag, length)


TXRAW_VARIANTS: dict[str, tuple[Reencode, str]] = {
    "unknown varint field": (_append(b"\x20\x01"), "field 4, which this chain does not know"),
    "unknown field 1024": (_append(varint(1024 << 3 | 2) + b"\x01x"), "does not know"),
    "auth info before body": (_swap_first_two, "comes after field 2"),
    "body repeated": (_repeat_first, "appears more than once"),
    "junk body shadowed": (_repeat_first_with_junk_before, "appears more than once"),
    "non-minimal tag": (_pad(tag=1), "non-minimal"),
    "non-minimal length": (_pad(length=1), "non-minimal"),
    "length padded to 5 bytes": (_pad(length=4), "non-minimal"),
    "signatures before auth info": (
        lambda d: encode([fields(d)[0], fields(d)[2], fields(d)[1]]),
        "comes after field 3",
    ),
}


def _resign(c: Chain, key: PrivateKey, body: bytes, auth: bytes) -> bytes:
    doc = SignDoc(
        body_bytes=body,
        auth_info_bytes=auth,
        chain_id=CHAIN_ID,
        account_number=c.account_number(key),
    )
    sig = key.sign(doc.SerializeToString())
    return bytes(TxRaw(body_bytes=body, auth_info_bytes=auth, signatures=[sig]).SerializeToString())


def _in_body(edit: Reencode) -> Callable[[bytes], tuple[bytes, bytes]]:
    def go(raw: bytes) -> tuple[bytes, bytes]:
        t = TxRaw.FromString(raw)
        return edit(t.body_bytes), t.auth_info_bytes

    return go


def _in_auth(edit: Reencode) -> Callable[[bytes], tuple[bytes, bytes]]:
    def go(raw: bytes) -> tuple[bytes, bytes]:
        t = TxRaw.FromString(raw)
        return t.body_bytes, edit(t.auth_info_bytes)

    return go


def _in_msg(edit: Reencode) -> Callable[[bytes], tuple[bytes, bytes]]:
    """Edit the first message's bytes inside its Any."""

    def go(raw: bytes) -> tuple[bytes, bytes]:
        t = TxRaw.FromString(raw)
        body = TxBody.FromString(t.body_bytes)
        body.messages[0].value = edit(body.messages[0].value)
        return body.SerializeToString(), t.auth_info_bytes

    return go


def _in_first_coin(edit: Reencode) -> Reencode:
    def go(msg: bytes) -> bytes:
        fs = fields(msg)
        i = next(i for i, f in enumerate(fs) if f[0] == 3)
        fs[i] = (3, 2, edit(fs[i][2]))
        return encode(fs)

    return go


def _in_pubkey(edit: Reencode) -> Reencode:
    def go(auth: bytes) -> bytes:
        a = AuthInfo.FromString(auth)
        pk = a.signer_infos[0].public_key
        pk.value = edit(pk.value)
        return bytes(a.SerializeToString())

    return go


def _explicit_default(num: int, where: int) -> Reencode:
    """Insert varint field ``num`` = 0 at position ``where``."""

    def go(data: bytes) -> bytes:
        fs = fields(data)
        fs.insert(where, (num, 0, b"\x00"))
        return encode(fs)

    return go


def _both_sign_modes(auth: bytes) -> bytes:
    a = AuthInfo.FromString(auth)
    mode = a.signer_infos[0].mode_info
    multi = encode([(2, 2, encode([(1, 2, b"")]))])  # ModeInfo.multi, an empty bitarray
    si = fields(a.signer_infos[0].SerializeToString())
    si = [(n, w, mode.SerializeToString() + multi if n == 2 else v) for n, w, v in si]
    rest = [f for f in fields(auth) if f[0] != 1]
    return encode([(1, 2, encode(si)), *rest])


SIGNED_VARIANTS: dict[str, tuple[Callable[[bytes], tuple[bytes, bytes]], str]] = {
    "body: memo before messages": (
        _in_body(_swap_first_two),
        "TxBody.messages (field 1) comes after",
    ),
    "body: memo repeated": (_in_body(_repeat(2)), "TxBody.memo appears more than once"),
    "body: unknown field": (_in_body(_append(b"\xf8\x06\x01")), "does not know"),
    "body: non-critical unknown field": (_in_body(_append(b"\x80\x40\x01")), "does not know"),
    "body: timeout_height 0 written out": (_in_body(_explicit_default(3, 1)), "default value"),
    "body: non-minimal length": (_in_body(_pad(length=2)), "non-minimal"),
    "auth: fee before signer infos": (
        _in_auth(_swap_first_two),
        "AuthInfo.signer_infos (field 1) comes after",
    ),
    "auth: unknown field": (_in_auth(_append(b"\xf8\x06\x01")), "does not know"),
    "auth: padded tags": (_in_auth(_pad(tag=2)), "non-minimal"),
    "auth: two sign modes": (_in_auth(_both_sign_modes), "more than one of sum"),
    "pubkey: key repeated": (_in_auth(_in_pubkey(_repeat_first)), "PubKey.key appears"),
    "pubkey: unknown field": (_in_auth(_in_pubkey(_append(b"\x10\x01"))), "does not know"),
    "msg: to before from": (_in_msg(_swap_first_two), "MsgSend).from_address (field 1)"),
    "msg: from repeated": (_in_msg(_repeat_first), "appears more than once"),
    "msg: unknown field": (_in_msg(_append(b"\xf8\x06\x01")), "does not know"),
    "msg: padded length": (_in_msg(_pad(length=1)), "non-minimal"),
    "coin: amount before denom": (
        _in_msg(_in_first_coin(_swap_first_two)),
        "amount.denom (field 1)",
    ),
    "coin: unknown field": (_in_msg(_in_first_coin(_append(b"\x18\x01"))), "does not know"),
}


@pytest.fixture
def good(chain: Chain) -> bytes:
    chain.block([])
    return chain.send(ALICE, BOB, 3, memo="for the coffee", count=False)


def _refused_everywhere(c: Chain, raw: bytes, says: str) -> None:
    r = c.check(raw)
    assert (r.codespace, r.code) == ("sdk", 2), r.log
    assert says in r.log, r.log
    assert "canonical" in r.log or "does not know" in r.log, r.log
    app = c.app
    assert app.prepare_proposal([raw], 1 << 20) == []
    assert app.process_proposal([raw], 1 << 20) is False
    seq = c.sequence(ALICE)
    res = c.block([raw])
    assert (res.tx_results[0].codespace, res.tx_results[0].code) == ("sdk", 2)
    assert c.sequence(ALICE) == seq


@pytest.mark.parametrize("name", list(TXRAW_VARIANTS))
def test_txraw_reencoding_is_refused(chain: Chain, good: bytes, name: str) -> None:
    edit, says = TXRAW_VARIANTS[name]
    raw = edit(good)
    assert raw != good and TxRaw.FromString(raw).signatures  # a parser reads it
    _refused_everywhere(chain, raw, says)
    assert_ok(chain.check(good))
    assert_ok(chain.block([good]).tx_results[0])


@pytest.mark.parametrize("name", list(SIGNED_VARIANTS))
def test_signed_reencoding_is_refused(chain: Chain, good: bytes, name: str) -> None:
    edit, says = SIGNED_VARIANTS[name]
    body, auth = edit(good)
    raw = _resign(chain, ALICE, body, auth)
    _refused_everywhere(chain, raw, says)
    assert_ok(chain.check(good))


def test_the_canonical_encoding_is_accepted_and_round_trips(chain: Chain, good: bytes) -> None:
    assert_codec_round_trips(good)
    t = TxRaw.FromString(good)
    assert t.SerializeToString(deterministic=True) == good
    assert_ok(chain.check(good))
    res = chain.block([good])
    assert_ok(res.tx_results[0])


def test_explain_names_the_field() -> None:
    assert explain(TxRaw.DESCRIPTOR, b"\x12\x01y\x0a\x01x", "TxRaw") == (
        "TxRaw.body_bytes (field 1) comes after field 2 (auth_info_bytes)"
    )
    assert explain(TxRaw.DESCRIPTOR, b"\x0a\x01x", "TxRaw") is None


# -- any re-encoding at all ---------------------------------------------------------------


@st.composite
def reencodings(draw: st.DrawFn, data: bytes) -> bytes:
    fs = fields(data)
    how = draw(st.lists(st.sampled_from(["shuffle", "dup", "pad", "unknown", "drop"]), min_size=1))
    pad_tag = pad_len = 0
    for h in how:
        if h == "shuffle":
            fs = draw(st.permutations(fs))
        elif h == "dup" and fs:
            fs.insert(draw(st.integers(0, len(fs))), draw(st.sampled_from(fs)))
        elif h == "pad":
            pad_tag, pad_len = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        elif h == "unknown":
            num = draw(st.sampled_from([4, 5, 15, 16, 1023, 1024, 2047, 100_000]))
            wire = draw(st.sampled_from([0, 2]))
            fs.insert(draw(st.integers(0, len(fs))), (num, wire, b"\x01" if wire == 0 else b""))
        elif h == "drop" and len(fs) > 1:
            fs.pop(draw(st.integers(0, len(fs) - 1)))
    return encode(fs, pad_tag, pad_len)


@fuzz(200)
@given(data=st.data())
def test_every_other_encoding_of_a_signed_tx_is_refused(
    chain: Chain, good: bytes, data: st.DataObject
) -> None:
    raw = data.draw(reencodings(good))
    r = chain.check(raw)
    if raw == good:
        assert_ok(r)
        chain.app._check = None  # forget it, so the next example starts afresh
    else:
        assert r.code != 0, "a second encoding of one signed tx was accepted"
        assert r.log


def test_the_varint_helper_pads() -> None:
    assert (
        varint(1) == b"\x01"
        and varint(1, 1) == b"\x81\x00"
        and varint(300, 2) == b"\xac\x82\x80\x00"
    )
    assert read_varint(varint(300, 2), 0) == (300, 4)
