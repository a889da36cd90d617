"""A block's signature checks, run on a helper process while the block executes.

FinalizeBlock decodes a large block's txs first. For each tx whose public key
and account number are known at the start of the block, the check
``secp256k1 verify(pubkey, signature, SignDoc(body, auth_info, chain_id,
account_number))`` goes, in chunks, to one helper process
(``python -m chain.sigverify``, fed through pipes); the block then executes on
the node's process as before. When the ante handler reaches a tx's signature it
takes the helper's answer only if it has arrived and was computed for exactly
the public key and account number the ante handler uses; otherwise it checks
the signature itself. The check is the key type's (chain/crypto.py's
``verify_signature`` on the typed key: sha256 of the SignDoc for secp256k1,
keccak256 for eth_secp256k1), and the answer is the same pure function either
way, so a block's result never depends on the helper: a node without one
(``sig_verify_workers = 0``), a slow helper or a dead one gives the same app
hash, only later.

The node's side never blocks on the helper and starts no thread: the pipes are
non-blocking and are pumped whenever an answer is looked up. Blocks of fewer
than ``min_txs`` txs are checked inline; the round trip would cost more.

The same helper also runs the app's own pure pre-pass on the txs the
framework does not decode (chain/foreign.py's ``prepass``: for VCoin's EVM,
recovering each Ethereum tx's sender). The app names a function
``"package.module:function"`` that takes a list of raw txs and answers one
bytes value (or None) per tx; the app takes an answer as a hint that it
could compute itself, so a missing answer again changes only the speed.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("vcoin.sigverify")

# (typed pubkey, signature64, body_bytes, auth_info_bytes, account_number): the typed key
# (chain/crypto.py) carries its type, so the helper checks by the key's rule
Check = tuple[bytes, bytes, bytes, bytes, int]

_LEN = 4


def verify_chunk(chain_id: str, checks: list[Check]) -> bytes:
    """The ante handler's signature check for each item: one byte, 1 (good) or 0."""
    from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import SignDoc

    from chain.crypto import verify_signature

    out = bytearray()
    for pubkey, sig, body, auth_info, number in checks:
        doc = SignDoc(
            body_bytes=body, auth_info_bytes=auth_info, chain_id=chain_id, account_number=number
        ).SerializeToString()
        out.append(1 if verify_signature(pubkey, sig, doc) else 0)
    return bytes(out)


def run_prepass(function: str, items: list[bytes]) -> list[bytes | None]:
    """The app's pre-pass ``"package.module:function"`` on ``items``."""
    mod, _, name = function.partition(":")
    fn = getattr(importlib.import_module(mod), name)
    out = fn(items)
    if not isinstance(out, list) or len(out) != len(items):
        raise ValueError(f"{function} answered {type(out).__name__}, not one answer an item")
    return out


def _answer(kind: str, arg: str, items: list[Any]) -> bytes:
    if kind == "sig":
        return verify_chunk(arg, items)
    try:
        return pickle.dumps(run_prepass(arg, items), protocol=5)
    except Exception as e:  # noqa: BLE001 - the node then works inline
        log.warning("pre-pass %s failed: %s", arg, e)
        return pickle.dumps([None] * len(items), protocol=5)


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(_LEN, "big") + payload


def helper_main() -> int:
    """The helper process: read (chunk id, chain id, checks) frames from stdin,
    answer (chunk id, verdicts) frames on stdout, until stdin closes."""
    import signal

    # the node stops it by closing its input; a Ctrl-C meant for the node is not its
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verify_chunk("", [])  # load the libraries before the first block needs them
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(_LEN)
        if len(head) < _LEN:
            return 0
        body = inp.read(int.from_bytes(head, "big"))
        cid, kind, arg, items = pickle.loads(body)
        out.write(_frame(cid.to_bytes(8, "big") + _answer(kind, arg, items)))
        out.flush()


@dataclass
class _Slot:
    chunk: int
    offset: int
    pubkey: bytes
    number: int


@dataclass
class BlockChecks:
    """One block's checks sent ahead: tx index → where its answer will be."""

    verifier: SigVerifier | None
    chain_id: str = ""
    slots: dict[int, _Slot] = field(default_factory=dict)
    pending: list[tuple[int, Check]] = field(default_factory=list)
    used: int = 0
    inline: int = 0
    # the app's pre-pass (chain/foreign.py): its function, the txs queued for it,
    # tx index → (chunk, offset), and the chunks' answers once read
    prepass: str = ""
    foreign_pending: list[tuple[int, bytes]] = field(default_factory=list)
    foreign_slots: dict[int, tuple[int, int]] = field(default_factory=dict)
    foreign_answers: dict[int, list[bytes | None]] = field(default_factory=dict)
    hints_used: int = 0

    def add(self, index: int, check: Check) -> None:
        """Queue tx ``index``'s check; chunks go out as they fill."""
        if self.verifier is None:
            return
        self.pending.append((index, check))
        # a small first chunk, so that the block's first txs find answers early
        size = self.verifier.chunk
        if len(self.pending) >= (min(16, size) if not self.slots else size):
            self.flush()

    def add_foreign(self, index: int, raw: bytes, prepass: str) -> None:
        """Queue tx ``index`` (a tx the app decodes itself) for the app's pre-pass."""
        if self.verifier is None:
            return
        self.prepass = prepass
        self.foreign_pending.append((index, raw))
        size = self.verifier.chunk
        if len(self.foreign_pending) >= (min(16, size) if not self.foreign_slots else size):
            self._flush_foreign()

    def flush(self) -> None:
        self._flush_foreign()
        if self.verifier is None or not self.pending:
            return
        part, self.pending = self.pending, []
        cid = self.verifier.send(self.chain_id, [c for _, c in part])
        if cid is None:
            self.verifier = None  # no helper: everything inline
            return
        for offset, (index, check) in enumerate(part):
            self.slots[index] = _Slot(cid, offset, check[0], check[4])

    def _flush_foreign(self) -> None:
        if self.verifier is None or not self.foreign_pending:
            return
        part, self.foreign_pending = self.foreign_pending, []
        cid = self.verifier.send(self.prepass, [raw for _, raw in part], kind="call")
        if cid is None:
            self.verifier = None
            return
        for offset, (index, _) in enumerate(part):
            self.foreign_slots[index] = (cid, offset)

    def hint(self, index: int) -> bytes | None:
        """The pre-pass's answer for tx ``index``, if it has arrived (else None)."""
        slot = self.foreign_slots.get(index)
        v = self.verifier
        if slot is None or v is None:
            return None
        cid, offset = slot
        got = self.foreign_answers.get(cid)
        if got is None:
            body = v.answers(cid)
            if body is None:
                return None
            try:
                got = pickle.loads(body)
            except Exception:  # noqa: BLE001 - a garbled answer: work inline
                got = []
            self.foreign_answers[cid] = got
        answer = got[offset] if offset < len(got) else None
        if isinstance(answer, bytes):
            self.hints_used += 1
            return answer
        return None

    def verdict(self, index: int, pubkey: bytes, number: int) -> bool | None:
        """The helper's answer for tx ``index`` checked with ``pubkey`` and account
        ``number``; None when none has arrived for exactly that (check inline)."""
        slot = self.slots.get(index)
        v = self.verifier
        if slot is None or v is None or slot.pubkey != pubkey or slot.number != number:
            self.inline += 1
            return None
        answers = v.answers(slot.chunk)
        if answers is None:
            self.inline += 1
            return None
        self.used += 1
        return answers[slot.offset] == 1


class SigVerifier:
    """The node's end of the signature helper: started on first use (or by
    ``start``), restarted after it dies, stopped by ``close``."""

    def __init__(self, workers: int = 1, min_txs: int = 64, chunk: int = 100) -> None:
        if workers > 1:
            log.info("sig_verify_workers=%d: one helper process is used", workers)
        self.workers = workers
        self.min_txs = min_txs
        self.chunk = chunk
        self._proc: subprocess.Popen[bytes] | None = None
        self._out = bytearray()  # framed requests not yet written
        self._in = bytearray()  # answer bytes not yet parsed
        self._answers: dict[int, bytes] = {}
        self._next = 0
        self._first_sent = 0  # answers to chunks before this one are dropped
        self.last: BlockChecks = BlockChecks(None)  # the latest block's (used / inline counts)
        self.warm: list[str] = []  # pre-pass functions a new helper loads at once

    @property
    def enabled(self) -> bool:
        return self.workers > 0

    def start(self) -> None:
        """Start the helper now (the node does at start-up, so block 1 need not)."""
        if self.enabled:
            self._alive()

    def _alive(self) -> bool:
        p = self._proc
        if p is not None and p.poll() is None:
            return True
        if p is not None:
            log.warning("signature helper exited (%s); starting another", p.returncode)
            self._drop()
        try:
            p = subprocess.Popen(
                [sys.executable, "-m", "chain.sigverify"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                close_fds=True,
            )
        except OSError as e:
            log.warning("cannot start the signature helper (%s); checking inline", e)
            return False
        assert p.stdin is not None and p.stdout is not None
        os.set_blocking(p.stdin.fileno(), False)
        os.set_blocking(p.stdout.fileno(), False)
        self._proc = p
        for fn in self.warm:  # load the app's libraries before the first block needs them
            self.send(fn, [], kind="call")
        return True

    def _drop(self) -> None:
        p, self._proc = self._proc, None
        self._out.clear()
        self._in.clear()
        self._answers.clear()
        if p is not None:
            for f in (p.stdin, p.stdout):
                if f is not None:
                    f.close()
            if p.poll() is None:
                p.kill()
            p.wait()

    def begin_block(self, chain_id: str, n_txs: int) -> BlockChecks:
        """A block's checks; an inert one for a small block or without a helper."""
        if not self.enabled or n_txs < self.min_txs or not self._alive():
            self.last = BlockChecks(None)
        else:
            self._answers.clear()  # the last block's are of no use now
            self._first_sent = self._next
            self.last = BlockChecks(self, chain_id)
        return self.last

    def send(self, arg: str, items: list[Any], kind: str = "sig") -> int | None:
        """Queue one chunk: signature checks (``kind`` "sig", ``arg`` the chain id)
        or the app's pre-pass (``kind`` "call", ``arg`` its function); the chunk's
        id, or None when the helper is gone."""
        if self._proc is None:
            return None
        cid = self._next
        self._next += 1
        self._out += _frame(pickle.dumps((cid, kind, arg, items), protocol=5))
        self._pump()
        return cid if self._proc is not None else None

    def answers(self, cid: int) -> bytes | None:
        got = self._answers.get(cid)
        if got is None and self._proc is not None:
            self._pump()
            got = self._answers.get(cid)
        return got

    def _pump(self) -> None:
        """Write what the pipe takes, read what has arrived; never wait."""
        p = self._proc
        assert p is not None and p.stdin is not None and p.stdout is not None
        try:
            while self._out:
                n = os.write(p.stdin.fileno(), self._out)
                del self._out[:n]
        except BlockingIOError:
            pass
        except OSError as e:  # the helper died: BrokenPipeError and the like
            log.warning("signature helper lost (%s); checking inline", e)
            self._drop()
            return
        try:
            while True:
                data = os.read(p.stdout.fileno(), 1 << 16)
                if not data:
                    log.warning("signature helper closed its output; checking inline")
                    self._drop()
                    return
                self._in += data
        except BlockingIOError:
            pass
        buf = self._in
        while len(buf) >= _LEN:
            n = int.from_bytes(buf[:_LEN], "big")
            if len(buf) < _LEN + n:
                break
            msg = bytes(buf[_LEN : _LEN + n])
            del buf[: _LEN + n]
            cid = int.from_bytes(msg[:8], "big")
            if cid >= self._first_sent:
                self._answers[cid] = msg[8:]

    def helper_pids(self) -> list[int]:
        return [] if self._proc is None else [self._proc.pid]

    def close(self) -> None:
        p = self._proc
        if p is None:
            return
        self._proc = None
        try:
            if p.stdin is not None:
                p.stdin.close()  # the helper sees end of input and exits
            p.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()
        if p.stdout is not None:
            p.stdout.close()


if __name__ == "__main__":
    raise SystemExit(helper_main())
