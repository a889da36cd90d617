"""What a refused non-canonical encoding is told, for every wire type (chain/tx/canonical.py).

The decision is protobuf's own round trip; ``explain`` then names the first thing
wrong, which is what a wallet author reads. VCoin's tx messages use only varints and
length-delimited fields, so a proto3 probe message made here from a descriptor also
covers the fixed-width wire types (double, fixed32), packed repeated scalars and
self-nesting, with the exact text for each fault.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from chain.errors import ChainError
from chain.tx.canonical import MAX_NESTING, explain, parse

F = descriptor_pb2.FieldDescriptorProto


def _probe_class() -> Any:
    fd = descriptor_pb2.FileDescriptorProto(
        name="vcoin_test_probe.proto", package="vcointest", syntax="proto3"
    )
    m = fd.message_type.add(name="Probe")
    for name, num, kind, label, type_name in [
        ("d", 1, F.TYPE_DOUBLE, F.LABEL_OPTIONAL, ""),
        ("f", 2, F.TYPE_FIXED32, F.LABEL_OPTIONAL, ""),
        ("r", 3, F.TYPE_INT64, F.LABEL_REPEATED, ""),
        ("child", 4, F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".vcointest.Probe"),
        ("u", 5, F.TYPE_UINT64, F.LABEL_OPTIONAL, ""),
        ("b", 6, F.TYPE_BYTES, F.LABEL_OPTIONAL, ""),
    ]:
        field = m.field.add(name=name, number=num, type=kind, label=label)
        if type_name:
            field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("vcointest.Probe"))


Probe = _probe_class()
DESC = Probe.DESCRIPTOR
ONE_AND_A_HALF = bytes.fromhex("000000000000f83f")  # 1.5 as a little-endian double


def nest_deep(inner: bytes, levels: int) -> bytes:
    """``inner`` as the ``child`` of a ``child`` … ``levels`` deep (any length)."""
    for _ in range(levels):
        n, size = len(inner), b""
        while True:
            b = n & 0x7F
            n >>= 7
            size += bytes([b | (0x80 if n else 0)])
            if not n:
                break
        inner = b"\x22" + size + inner
    return inner


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x09" + bytes(8), "probe.d is written out with its default value"),
        (b"\x15" + bytes(4), "probe.f is written out with its default value"),
        (b"\x09" + ONE_AND_A_HALF + b"\x15" + bytes(4), "probe.f is written out with its default"),
        (b"\x18\x01\x18\x02", "probe.r is a repeated scalar that is not packed"),
        (b"\x1a\x02\x01\x02\x28\x00", "probe.u is written out with its default value"),
        (b"\x22\x02\x28\x00", "probe.child.u is written out with its default value"),
        (b"\x28\x81\x00", "probe.u: a varint is longer than needed (non-minimal)"),
        (b"\x32\x00", "probe.b is written out with its default value"),
        (b"\x28\x01\x09" + ONE_AND_A_HALF, "probe.d (field 1) comes after field 5 (u)"),
        (b"\x28\x01\x28\x02", "probe.u appears more than once"),
        (b"\x48\x01", "probe has field 9, which this chain does not know"),
        (b"\x08\x01", "probe.d has wire type 0; its type needs 1"),
    ],
    ids=[
        "double-default", "fixed32-default", "after-a-double", "unpacked", "after-packed",
        "nested-default", "non-minimal", "bytes-default", "order", "twice", "unknown", "wire",
    ],
)  # fmt: skip
def test_a_non_canonical_encoding_is_refused_saying_what_is_wrong(data: bytes, why: str) -> None:
    with pytest.raises(ChainError) as e:
        parse(Probe, data, "probe")
    assert why in str(e.value) and "encode it canonically" in str(e.value)
    assert explain(DESC, data, "probe") is not None and why in (explain(DESC, data, "probe") or "")


def test_canonical_encodings_are_accepted_and_explain_finds_nothing() -> None:
    msg = Probe(d=1.5, f=7, r=[1, 2], u=2**64 - 1, b=b"x")
    msg.child.SetInParent()  # an empty but present message is written, as 0x22 0x00
    data = msg.SerializeToString(deterministic=True)
    assert b"\x22\x00" in data and b"\xff" * 9 + b"\x01" in data  # a 10-byte varint
    assert parse(Probe, data, "probe") == msg
    assert explain(DESC, data, "probe") is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x28" + b"\x80" * 10 + b"\x01", "probe.u: a varint runs past its end"),  # 11 bytes
        (b"\x28\x80", "probe.u: a varint runs past its end"),
        (b"\x80", "probe: a varint runs past its end"),  # the tag itself
        (b"\x09" + bytes(4), "probe.d runs past the end"),
        (b"\x32\x05ab", "probe.b runs past the end"),
        (b"\x32\x80", "probe.b: a varint runs past its end"),  # its length, cut
    ],
    ids=["eleven-byte-varint", "cut-varint", "cut-tag", "cut-double", "cut-bytes", "cut-length"],
)
def test_damaged_bytes_are_explained_too(data: bytes, why: str) -> None:
    """The parser refuses these first ("not valid protobuf"); ``explain`` still names
    the fault when asked directly."""
    assert explain(DESC, data, "probe") == why
    with pytest.raises(ChainError, match="not valid protobuf"):
        parse(Probe, data, "probe")


def test_nesting_is_walked_to_exactly_its_limit() -> None:
    fault = b"\x28\x00"  # u written out as 0 at the bottom
    at_limit = nest_deep(fault, MAX_NESTING)
    path = "probe" + ".child" * MAX_NESTING + ".u"
    assert explain(DESC, at_limit, "probe") == (
        f"{path} is written out with its default value; leave it out"
    )
    too_deep = nest_deep(fault, MAX_NESTING + 1)
    assert explain(DESC, too_deep, "probe") == (
        "probe" + ".child" * (MAX_NESTING + 1) + f": nested deeper than {MAX_NESTING} messages"
    )


@pytest.mark.parametrize("size", [127, 128, 16_383, 16_384, 2_097_152])
def test_a_fault_after_a_long_field_is_found_whatever_its_length_takes(size: int) -> None:
    """Lengths of one to four varint bytes are read right: the walk lands on the fault
    after the field, not somewhere inside it."""
    long = Probe(b=b"\x01" * size).SerializeToString(deterministic=True)
    data = long + b"\x32\x01\x01"  # then b once more
    assert explain(DESC, data, "probe") == "probe.b appears more than once"
