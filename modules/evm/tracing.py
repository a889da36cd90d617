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

``call_frame`` turns a finished tx into geth's ``callTracer`` shape (logs
included; the RPC drops them unless ``withLog``). ``TraceStore`` keeps the
frames of the last ``keep_blocks`` blocks in their own RocksDB (``data/evm_traces``)::

    b"b" + height + seq   {"txHash": …, "result": frame}   (seq: order in the block)
    b"x" + tx hash        height + seq
    b"c" + address        {"hash": tx hash, "creator": address}   (never pruned)

A block replayed after a restart writes the same keys again.
"""

from __future__ import annotations

import json
import threading
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
DEFAULT_KEEP_BLOCKS = 10_000


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
        return "execution reverted"
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


def _frame(c: ComputationAPI, kind: str, sender: bytes, gas: int, gas_used: int) -> dict[str, Any]:
    msg = c.msg
    create = kind in ("CREATE", "CREATE2")
    out: dict[str, Any] = {
        "type": kind,
        "from": _hex(sender),
        "to": _hex(bytes(msg.storage_address if create else msg.code_address)),
        "gas": _q(gas),
        "gasUsed": _q(gas_used),
        "input": _hex(bytes(msg.code if create else msg.data)),
    }
    if kind != "STATICCALL":
        out["value"] = _q(msg.value)
    output = bytes(c.output)
    if c.is_error:
        err = c.error
        out["error"] = error_text(err)
        if isinstance(err, Revert):
            out["output"] = _hex(output)
            reason = revert_reason(output)
            if reason is not None:
                out["revertReason"] = reason
    else:
        out["output"] = _hex(output)
    calls: list[dict[str, Any]] = []
    logs_at: list[int] = []
    for child in c.children:
        op, logs_before = getattr(child, "trace_mark", (0, 0))
        ckind = CALL_TYPES.get(op) or ("CREATE" if child.msg.is_create else "CALL")
        cgas = child.msg.gas
        left = child.get_gas_remaining()
        calls.append(_frame(child, ckind, bytes(msg.storage_address), cgas, cgas - left))
        logs_at.append(logs_before)
    sd = getattr(c, "trace_selfdestruct", None)
    if sd is not None and not c.is_error:
        calls.append(
            {
                "type": "SELFDESTRUCT",
                "from": _hex(bytes(msg.storage_address)),
                "to": _hex(sd[0]),
                "gas": "0x0",
                "gasUsed": "0x0",
                "input": "0x",
                "value": _q(sd[1]),
            }
        )
    if calls:
        if c.is_error:  # as geth: a failed frame's logs are undone, its calls' too
            for f in calls:
                _drop_logs(f)
        out["calls"] = calls
    if not c.is_error and c._log_entries:
        logs = []
        for i, (_, addr, topics, data) in enumerate(c._log_entries):
            pos = sum(1 for b in logs_at if b <= i)
            logs.append(
                {
                    "address": _hex(bytes(addr)),
                    "topics": ["0x" + t.to_bytes(32, "big").hex() for t in topics],
                    "data": _hex(bytes(data)),
                    "position": _q(pos),
                }
            )
        out["logs"] = logs
    return out


def _drop_logs(frame: dict[str, Any]) -> None:
    frame.pop("logs", None)
    for f in frame.get("calls") or []:
        _drop_logs(f)


def call_frame(
    computation: ComputationAPI, sender: bytes, gas: int, gas_used: int
) -> dict[str, Any]:
    """The callTracer frame of a tx that ran: its top call (gas: the tx's gas limit,
    gasUsed: the receipt's) and every frame under it."""
    kind = "CREATE" if computation.msg.is_create else "CALL"
    return _frame(computation, kind, sender, gas, gas_used)


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
    """The call frames of the txs of the last ``keep_blocks`` blocks (0: keep none)."""

    def __init__(self, path: str | Path, keep_blocks: int = DEFAULT_KEEP_BLOCKS) -> None:
        from rocksdict import Options, Rdict

        Path(path).mkdir(parents=True, exist_ok=True)
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        self.db = Rdict(str(path), opts)
        self.keep_blocks = keep_blocks
        self._lock = threading.Lock()
        self._height = -1
        self._seq = 0
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
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
        frame = call_frame(computation, sender, gas, gas_used)
        with self._lock:
            if height != self._height:
                self._height, self._seq = height, 0
                self._prune(height - self.keep_blocks)
            key = _h(height) + self._seq.to_bytes(4, "big")
            self._seq += 1
            self.db[b"b" + key] = json.dumps({"txHash": _hex(tx_hash), "result": frame}).encode()
            self.db[b"x" + tx_hash] = key
            for _, f in walk(frame):
                if f["type"] in ("CREATE", "CREATE2") and "error" not in f:
                    made = bytes.fromhex(f["to"][2:])
                    if self.db.get(b"c" + made) is None:
                        creator = {"hash": _hex(tx_hash), "creator": f["from"]}
                        self.db[b"c" + made] = json.dumps(creator).encode()

    def _prune(self, below_or_at: int) -> None:
        if below_or_at < 0:
            return
        end = b"b" + _h(below_or_at + 1)
        it = self.db.iter()
        it.seek(b"b")
        doomed: list[bytes] = []
        while it.valid() and it.key() < end:
            k = it.key()
            doomed.append(k)
            doomed.append(b"x" + bytes.fromhex(json.loads(it.value())["txHash"][2:]))
            it.next()
        for k in doomed:
            del self.db[k]

    def tx(self, tx_hash: bytes) -> dict[str, Any] | None:
        """The frame of a tx, None when none is kept."""
        with self._lock:
            key = self.db.get(b"x" + tx_hash)
            raw = None if key is None else self.db.get(b"b" + key)
        return None if raw is None else dict(json.loads(raw)["result"])

    def block(self, height: int) -> list[dict[str, Any]]:
        """``{"txHash", "result"}`` of each traced tx of block ``height``, in block order."""
        prefix = b"b" + _h(height)
        out: list[dict[str, Any]] = []
        with self._lock:
            it = self.db.iter()
            it.seek(prefix)
            while it.valid() and it.key()[:9] == prefix:
                out.append(dict(json.loads(it.value())))
                it.next()
        return out

    def oldest(self) -> int | None:
        """The lowest height with a kept trace."""
        with self._lock:
            it = self.db.iter()
            it.seek(b"b")
            if it.valid() and it.key()[:1] == b"b":
                return int.from_bytes(it.key()[1:9], "big")
        return None

    def creator(self, address: bytes) -> dict[str, str] | None:
        with self._lock:
            raw = self.db.get(b"c" + address)
        return None if raw is None else dict(json.loads(raw))
