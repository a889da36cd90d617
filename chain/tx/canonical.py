"""One accepted encoding per transaction (ADR-027).

Protobuf parsers accept many encodings of one message: unknown fields, fields
out of order or repeated (the last one wins), non-minimal varints, unpacked
repeated scalars, default values written out. Each gives a transaction its own
hash while the signature still checks, so wallets, explorers and ``tx_search``
would see one signed transaction under many hashes. The Cosmos SDK refuses
them (``RejectUnknownFields`` and the canonical ``TxRaw`` check); VCoin goes
further and refuses every non-canonical encoding, in the envelope and in every
message inside it.

The canonical encoding is protobuf's deterministic serialization: fields in
ascending order, each singular field once, minimal varints, packed repeated
scalars, scalar defaults left out. The check is a round trip done by the C
parser: parse, drop unknown fields, serialize, compare. Only a refused input
is walked field by field (``explain``) to say what is wrong with it.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from chain.errors import ErrTxDecode

# upb, like protobuf's other runtimes, refuses input nested deeper than this;
# a valid VCoin tx nests at most 4 messages in one protobuf blob
MAX_NESTING = 100

_F = FieldDescriptor
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_WIRE = {
    _F.TYPE_DOUBLE: _I64,
    _F.TYPE_FIXED64: _I64,
    _F.TYPE_SFIXED64: _I64,
    _F.TYPE_FLOAT: _I32,
    _F.TYPE_FIXED32: _I32,
    _F.TYPE_SFIXED32: _I32,
    _F.TYPE_STRING: _LEN,
    _F.TYPE_BYTES: _LEN,
    _F.TYPE_MESSAGE: _LEN,
}
_HINT = (
    "encode it canonically (fields in ascending order, each once, minimal varints, "
    "defaults left out, as protobuf's deterministic serialization does)"
)


def parse(cls: type[Message], data: bytes, what: str) -> Any:
    """``data`` as a ``cls``, if it is the one canonical encoding of its content;
    else an ErrTxDecode naming the first thing that is not."""
    try:
        m = cls.FromString(data)
    except (DecodeError, ValueError, RuntimeError, RecursionError) as e:
        raise ErrTxDecode(f"{what} is not valid protobuf ({e}); the tx bytes are damaged") from e
    m.DiscardUnknownFields()
    if m.SerializeToString(deterministic=True) != data:
        why = explain(cls.DESCRIPTOR, bytes(data), what) or f"{what} is not canonical"
        raise ErrTxDecode(f"{why}; {_HINT}")
    return m


class _Stop(Exception):
    pass


def _varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    n = shift = 0
    start = pos
    while True:
        if pos >= len(data) or pos - start >= 10:
            raise _Stop(f"{where}: a varint runs past its end")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    if pos - start > 1 and data[pos - 1] == 0:
        raise _Stop(f"{where}: a varint is longer than needed (non-minimal)")
    return n, pos


def _repeated(f: Any) -> bool:
    # ``label`` is what this runtime has; the type stubs know only ``is_repeated``
    return bool(f.label == _F.LABEL_REPEATED)


def _is_default(f: Any, wire: int, value: int | bytes) -> bool:
    if _repeated(f) or f.has_presence:
        return False
    if wire == _LEN:
        return value == b""
    return value == 0


def explain(desc: Any, data: bytes, where: str, depth: int = 0) -> str | None:
    """The first non-canonical thing in ``data`` read as ``desc``, or None."""
    try:
        _walk(desc, data, where, depth)
    except _Stop as e:
        return str(e)
    return None


def _walk(desc: Any, data: bytes, where: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise _Stop(f"{where}: nested deeper than {MAX_NESTING} messages")
    pos = 0
    last: Any = None
    oneofs: set[str] = set()
    while pos < len(data):
        tag, pos = _varint(data, pos, where)
        num, wire = tag >> 3, tag & 7
        f: Any = desc.fields_by_number.get(num)
        if f is None:
            raise _Stop(f"{where} has field {num}, which this chain does not know")
        name = f"{where}.{f.name}"
        if last is not None and num < last.number:
            raise _Stop(f"{name} (field {num}) comes after field {last.number} ({last.name})")
        repeated = _repeated(f)
        if last is not None and num == last.number and not repeated:
            raise _Stop(f"{name} appears more than once")
        group = f.containing_oneof
        if group is not None:
            if group.name in oneofs:
                raise _Stop(f"{where} sets more than one of {group.name}")
            oneofs.add(group.name)
        expected = _WIRE.get(f.type, _VARINT)
        if repeated and expected != _LEN and wire == _LEN:
            expected = _LEN  # packed, as canonical repeated scalars are
        elif repeated and expected != _LEN:
            raise _Stop(f"{name} is a repeated scalar that is not packed")
        if wire != expected:
            raise _Stop(f"{name} has wire type {wire}; its type needs {expected}")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(data, pos, name)
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            if pos + size > len(data):
                raise _Stop(f"{name} runs past the end")
            value = int.from_bytes(data[pos : pos + size], "little")
            pos += size
        else:
            size, pos = _varint(data, pos, name)
            if pos + size > len(data):
                raise _Stop(f"{name} runs past the end")
            value = data[pos : pos + size]
            pos += size
            if f.type == _F.TYPE_MESSAGE:
                _walk(f.message_type, value, name, depth + 1)
        if _is_default(f, wire, value):
            raise _Stop(f"{name} is written out with its default value; leave it out")
        last = f
