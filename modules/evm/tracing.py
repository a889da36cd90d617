"""Call traces of the Ethereum txs a block ran, kept beside the node's blocks, off consensus.

The node keeps only its latest state, so a trace cannot be made later by running
the tx again: it is taken while the block runs. py-evm already keeps the tree of
a tx's message frames (each computation's ``children``, with its message,
output, error, gas left and logs); the executor's one hook (``mark``, called as
each child frame starts) adds what the tree does not say: the opcode that made
the frame (CALL, STATICCALL, DELEGATECALL, CALLCODE, CREATE, CREATE2) and how
many of the parent's logs came before it. SELFDESTRUCT is seen by wrapping that
one opcode (``with_selfdestruct``). Nothing is done per opcode, and nothing here
writes state: the app hash and the tx results are the same with or without it.

``record_frame`` takes a finished tx's frames as plain lists (cheap to build and to
marshal; a log is only its place, its contents are the receipt's); ``to_json`` gives
geth's ``callTracer`` shape of them when read, with the receipt's logs (the RPC drops
them unless ``withLog``). Recording costs 13-18 us a tx, about 3 % of an ERC-20 or
VCoin.sol transfer's CPU (scripts/bench/evm_tps.py's blocks, with and without).
``TraceStore`` keeps the frames of the last ``keep_blocks`` blocks in their own
RocksDB (``data/evm_traces``), a block as one value::

    b"b" + height         version byte + marshal of [marshal of (tx hash, frame), …]
                          in block order
    b"c" + address        tx hash + creator of the contract made there (never pruned)
    b"a" + address + height   (empty): a call below a tx's top call came from or went
                          to ``address`` in that block (for Otterscan's address history)
    b"t" + height         the addresses of the block's b"a" keys (to prune them)

A block replayed after a restart writes the same keys again.
"""

from __future__ import annotations

import marshal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth.abc import ComputationAPI
from eth.exceptions import (
    FullStack,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfGas,
    Revert,
    WriteProtection,
)

CALL_TYPES = {0xF0: "CREATE", 0xF1: "CALL", 0xF2: "CALLCODE", 0xF4: "DELEGATECALL"}
CALL_TYPES.update({0xF5: "CREATE2", 0xFA: "STATICCALL"})
SELFDESTRUCT = 0xFF
ERROR_SELECTOR = bytes.fromhex("08c379a0")
_VERSION = b"\x03"  # of the stored form of a block
DEFAULT_KEEP_BLOCKS = 10_000
REVERTED = "execution reverted"


# -- the hooks (executor.py) ----------------------------------------------------------------
def mark(child: ComputationAPI, parent: ComputationAPI) -> None:
    """Note on ``child`` the opcode of ``parent`` that made it and the parent's logs so far."""
    code = parent.code
    pc = code.program_counter
    raw = code._raw_code_bytes  # type: ignore[attr-defined]
    child.trace_mark = (raw[pc - 1] if 0 < pc <= len(raw) else 0, len(parent._log_entries))  # type: ignore[attr-defined]


def with_selfdestruct(opcodes: dict[int, Any]) -> dict[int, Any]:
    """``opcodes`` with SELFDESTRUCT noting its beneficiary and the balance it sends."""
    op = opcodes.get(SELFDESTRUCT)
    if op is None:
        return opcodes

    def selfdestruct(computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        if values:
            top = values[-1]
            raw = top if isinstance(top, bytes) else top.to_bytes(32, "big")
            me = computation.msg.storage_address
            sent = computation.state.get_balance(me)
            computation.trace_selfdestruct = (raw[-20:].rjust(20, b"\0"), sent)  # type: ignore[attr-defined]
        op(computation=computation)

    return {**opcodes, SELFDESTRUCT: selfdestruct}


# -- frames -----------------------------------------------------------------------------------
def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _q(n: int) -> str:
    return hex(n)


def revert_reason(output: bytes) -> str | None:
    """The message of an ``Error(string)`` revert, None for other data."""
    if output[:4] != ERROR_SELECTOR or len(output) < 68:
        return None
    try:
        n = int.from_bytes(output[36:68], "big")
        return output[68 : 68 + n].decode()
    except (UnicodeDecodeError, OverflowError):
        return None


def error_text(err: Exception) -> str:
    """A frame's error in geth's words where geth has some."""
    if isinstance(err, Revert):
        return REVERTED
    if isinstance(err, OutOfGas):
        return "out of gas"
    if isinstance(err, InvalidJumpDestination):
        return "invalid jump destination"
    if isinstance(err, InvalidInstruction):
        return "invalid opcode"
    if isinstance(err, InsufficientStack):
        return "stack underflow"
    if isinstance(err, FullStack):
        return "stack overflow"
    if isinstance(err, WriteProtection):
        return "write protection"
    detail = str(err)[:200]
    return f"{type(err).__name__}: {detail}" if detail else type(err).__name__


# A recorded frame is a list, cheap to build and to marshal; ``to_json`` makes geth's
# shape of it when it is read:
#   [type, from, to, gas, gasUsed, input, value, output, error, calls, logs]
# (addresses and data as bytes; error None or its text; calls and logs None or lists).
# A log is [n, position]: n orders it among the tx's logs, whose contents the tx's
# receipt holds already (the same logs: those of frames that stood, in that order).
def _record(
    c: ComputationAPI, kind: str, sender: bytes, gas: int, gas_used: int, undone: bool
) -> list[Any]:
    msg = c.msg
    error = c._error
    undone = undone or error is not None  # a failed frame's logs are undone, its calls' too
    me = msg.storage_address
    calls: list[Any] | None = None
    logs_at: list[int] = []
    if c.children:
        calls = []
        for child in c.children:
            op, logs_before = getattr(child, "trace_mark", (0, 0))
            ckind = CALL_TYPES.get(op) or ("CREATE" if child.msg.is_create else "CALL")
            cgas = child.msg.gas
            used = cgas - child.get_gas_remaining()
            calls.append(_record(child, ckind, me, cgas, used, undone))
            logs_at.append(logs_before)
    sd = getattr(c, "trace_selfdestruct", None)
    if sd is not None and error is None:
        sd_frame = ["SELFDESTRUCT", me, sd[0], 0, 0, b"", sd[1], b"", None, None, None]
        calls = [*(calls or []), sd_frame]
    logs: list[Any] | None = None
    entries = c._log_entries
    if entries and not undone:
        if logs_at:
            logs = [[e[0], sum(1 for b in logs_at if b <= i)] for i, e in enumerate(entries)]
        else:
            logs = [[e[0], 0] for e in entries]
    create = kind == "CREATE" or kind == "CREATE2"
    return [
        kind,
        sender,
        me if create else msg.code_address,
        gas,
        gas_used,
        msg.code if create else msg.data,
        msg.value,
        c._output,
        None if error is None else error_text(error),
        calls,
        logs,
    ]


def record_frame(computation: ComputationAPI, sender: bytes, gas: int, gas_used: int) -> list[Any]:
    """The recorded frame of a tx that ran: its top call (gas: the tx's gas limit,
    gasUsed: the receipt's) and every frame under it."""
    kind = "CREATE" if computation.msg.is_create else "CALL"
    return _record(computation, kind, sender, gas, gas_used, False)


# a log of the receipt: (address, topics, data), each in hex
Log = tuple[str, list[str], str]


def _log_numbers(f: list[Any], out: list[int]) -> None:
    for n, _ in f[10] or ():
        out.append(n)
    for c in f[9] or ():
        _log_numbers(c, out)


def to_json(f: list[Any], logs: Sequence[Log] = ()) -> dict[str, Any]:
    """geth's callTracer frame of a recorded one; ``logs``: the tx's receipt logs,
    which each frame's logs are (in the order they were made)."""
    numbers: list[int] = []
    _log_numbers(f, numbers)
    rank = {n: i for i, n in enumerate(sorted(numbers))}
    return _json(f, rank, logs)


def _json(f: list[Any], rank: dict[int, int], logs: Sequence[Log]) -> dict[str, Any]:
    kind, sender, to, gas, used, data, value, output, error, calls, own = f
    out: dict[str, Any] = {
        "type": kind,
        "from": _hex(sender),
        "to": _hex(to),
        "gas": _q(gas),
        "gasUsed": _q(used),
        "input": _hex(data),
    }
    if kind != "STATICCALL":
        out["value"] = _q(value)
    if error is None:
        if kind != "SELFDESTRUCT":
            out["output"] = _hex(output)
    else:
        out["error"] = error
        if error == REVERTED:
            out["output"] = _hex(output)
            reason = revert_reason(output)
            if reason is not None:
                out["revertReason"] = reason
    if calls:
        out["calls"] = [_json(c, rank, logs) for c in calls]
    if own:
        shown = []
        for n, pos in own:
            i = rank[n]
            address, topics, payload = logs[i] if i < len(logs) else ("", [], "0x")
            shown.append(
                {"address": address, "topics": topics, "data": payload, "position": _q(pos)}
            )
        out["logs"] = shown
    return out


def _creations(f: list[Any], out: list[tuple[bytes, bytes]]) -> None:
    """(address made, its creator) of each CREATE/CREATE2 that stood, in run order."""
    if f[8] is not None:
        return
    if f[0] == "CREATE" or f[0] == "CREATE2":
        out.append((f[2], f[1]))
    for c in f[9] or ():
        _creations(c, out)


def _touched(f: list[Any], out: set[bytes]) -> None:
    """The accounts the calls under ``f`` came from or went to."""
    for c in f[9] or ():
        out.add(c[1])
        out.add(c[2])
        _touched(c, out)


def touches(f: list[Any], address: bytes) -> bool:
    """Whether a call under the recorded frame ``f`` came from or went to ``address``."""
    return any(c[1] == address or c[2] == address or touches(c, address) for c in f[9] or ())


def strip(frame: dict[str, Any], with_log: bool, only_top: bool) -> dict[str, Any]:
    """``frame`` without logs (unless ``with_log``) and, with ``only_top``, without calls."""
    out = {k: v for k, v in frame.items() if k not in ("calls", "logs")}
    if with_log and "logs" in frame:
        out["logs"] = frame["logs"]
    if not only_top and "calls" in frame:
        out["calls"] = [strip(c, with_log, False) for c in frame["calls"]]
    return out


def walk(frame: dict[str, Any], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """Every frame of the tree with its depth (the top call is 0), in the order they ran."""
    out = [(depth, frame)]
    for c in frame.get("calls") or []:
        out.extend(walk(c, depth + 1))
    return out


# -- the store ----------------------------------------------------------------------------------
def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


class TraceStore:
    """The call frames of the txs of the last ``keep_blocks`` blocks (0: keep none).

    ``record`` keeps the block in progress in memory and writes it, as one value,
    when the next block records, when a trace is read, or at ``close``; a node that
    stops hard loses the frames of its last block with EVM txs, nothing else."""

    def __init__(self, path: str | Path, keep_blocks: int = DEFAULT_KEEP_BLOCKS) -> None:
        from rocksdict import Options, Rdict

        Path(path).mkdir(parents=True, exist_ok=True)
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        self.db = Rdict(str(path), opts)
        self.keep_blocks = keep_blocks
        self._lock = threading.Lock()
        self._height = -1
        self._txs: list[bytes] = []  # the block in progress: marshal of (tx hash, frame)
        self._made: list[tuple[bytes, bytes, bytes]] = []  # (address, tx hash, creator)
        self._touch: set[bytes] = set()  # accounts its txs' inner calls came from or went to
        self._dirty = False
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._flush()
                self._closed = True
                self.db.close()

    def record(
        self,
        height: int,
        tx_hash: bytes,
        computation: ComputationAPI,
        sender: bytes,
        gas: int,
        gas_used: int,
    ) -> None:
        """Keep the trace of a tx that ran in block ``height`` (called in block order)."""
        if self.keep_blocks <= 0:
            return
        frame = record_frame(computation, sender, gas, gas_used)
        blob = marshal.dumps((tx_hash, frame))  # the lists die young: no GC survivors
        made: list[tuple[bytes, bytes]] = []
        touched: set[bytes] = set()
        _creations(frame, made)
        if frame[9]:
            _touched(frame, touched)
        with self._lock:
            if height != self._height:
                self._flush()
                self._height, self._txs, self._made = height, [], []
                self._touch = set()
            self._txs.append(blob)
            self._made.extend((addr, tx_hash, creator) for addr, creator in made)
            self._touch |= touched
            self._dirty = True

    def _flush(self) -> None:
        """Write the block in progress (kept in memory until the next one), its
        contracts' creators, and the deletes of the blocks now too old."""
        if not self._dirty:
            return
        from rocksdict import WriteBatch

        wb = WriteBatch(raw_mode=True)
        wb.put(b"b" + _h(self._height), _VERSION + marshal.dumps(self._txs))
        for addr, tx_hash, creator in self._made:
            wb.put(b"c" + addr, tx_hash + creator)
        h = _h(self._height)
        if self._touch:
            for addr in self._touch:
                wb.put(b"a" + addr + h, b"")
            wb.put(b"t" + h, b"".join(sorted(self._touch)))
        end = b"b" + _h(max(self._height - self.keep_blocks + 1, 0))
        it = self.db.iter()
        it.seek(b"b")
        while it.valid() and it.key() < end:
            old = it.key()[1:]
            wb.delete(b"b" + old)
            listed = self.db.get(b"t" + old)
            if listed is not None:
                wb.delete(b"t" + old)
                for i in range(0, len(listed), 20):
                    wb.delete(b"a" + listed[i : i + 20] + old)
            it.next()
        self.db.write(wb)
        self._dirty = False

    def _blobs(self, height: int) -> list[bytes]:
        with self._lock:
            self._flush()
            if height == self._height:
                return list(self._txs)
            raw = self.db.get(b"b" + _h(height))
        if raw is None or raw[:1] != _VERSION:
            return []
        blobs: list[bytes] = marshal.loads(raw[1:])
        return blobs

    def frames(self, height: int) -> list[tuple[bytes, list[Any]]]:
        """(tx hash, recorded frame) of each traced tx of block ``height``, in order."""
        return [marshal.loads(b) for b in self._blobs(height)]

    def tx(self, tx_hash: bytes, height: int, index: int) -> list[Any] | None:
        """The recorded frame of the tx ``tx_hash``, Ethereum tx ``index`` of block
        ``height``; None when none is kept."""
        blobs = self._blobs(height)
        if index < len(blobs):
            h, frame = marshal.loads(blobs[index])
            if h == tx_hash:
                return list(frame)
        for h, frame in map(marshal.loads, blobs):  # not where expected: look through
            if h == tx_hash:
                return list(frame)
        return None

    def touched(self, address: bytes) -> list[int]:
        """The kept blocks with a call from or to ``address`` below a tx's top call."""
        prefix = b"a" + address
        out: list[int] = []
        with self._lock:
            self._flush()
            it = self.db.iter()
            it.seek(prefix)
            while it.valid() and it.key()[:21] == prefix:
                out.append(int.from_bytes(it.key()[21:29], "big"))
                it.next()
        return out

    def touching(self, height: int, address: bytes) -> set[int]:
        """The indices (among the Ethereum txs of block ``height``) of the txs with a
        call from or to ``address`` below their top call."""
        return {i for i, (_, f) in enumerate(self.frames(height)) if touches(f, address)}

    def oldest(self) -> int | None:
        """The lowest height with a kept trace."""
        with self._lock:
            self._flush()
            it = self.db.iter()
            it.seek(b"b")
            if it.valid() and it.key()[:1] == b"b":
                return int.from_bytes(it.key()[1:9], "big")
        return None

    def creator(self, address: bytes) -> dict[str, str] | None:
        """The tx that made the contract at ``address`` and the account that ran it
        (kept for good, from when the node began recording)."""
        with self._lock:
            self._flush()
            raw = self.db.get(b"c" + address)
        if raw is None or len(raw) != 52:
            return None
        return {"hash": _hex(raw[:32]), "creator": _hex(raw[32:])}
