"""ABCI v0.38 framing: each message is an unsigned-varint length, then protobuf bytes."""

from __future__ import annotations

import asyncio

MAX_MESSAGE = 64 * 1024 * 1024


class FrameError(ValueError):
    """A length prefix that cannot be read: the stream cannot be resynchronised."""


def encode_uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


async def read_uvarint(reader: asyncio.StreamReader) -> int:
    shift = 0
    result = 0
    for _ in range(10):
        b = (await reader.readexactly(1))[0]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result
        shift += 7
    raise FrameError("the length prefix is longer than 10 bytes")


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    n = await read_uvarint(reader)
    if n > MAX_MESSAGE:
        raise FrameError(f"a message of {n} bytes is over the {MAX_MESSAGE}-byte limit")
    return await reader.readexactly(n)


def frame(payload: bytes) -> bytes:
    return encode_uvarint(len(payload)) + payload
