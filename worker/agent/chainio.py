"""The agent's side of the chain: one signer for all its txs, and waiting for their blocks.

Claims, results, give-backs and heartbeats all come from one account, so one
``TxSender`` signs them under a lock with a sequence it counts itself (no
account query per tx: a claim must leave within milliseconds of the event).
Txs go out with ``broadcast_tx_sync``; their outcome arrives with the block
that holds them, which the agent already reads from its event stream
(``TxWaiter.resolve``), and is polled from the node only when the stream is
behind.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from chain.client import (
    CODE_WRONG_SEQUENCE,
    GAS_ADJUSTMENT,
    SDK,
    Account,
    NodeClient,
    QueryFailed,
    TxResponse,
)
from chain.crypto import PrivateKey

log = logging.getLogger("vcoin.worker.chain")

# Gas per message kind, measured on the devnet with headroom: a fixed limit
# saves the simulate round trip a claim cannot afford.
GAS = {"claim": 200_000, "submit": 300_000, "release": 250_000, "heartbeat": 120_000}
DEFAULT_GAS = 300_000
CODE_OUT_OF_GAS = 11  # sdk/11


@dataclass(frozen=True)
class Sent:
    hash: str
    sequence: int
    at: float  # monotonic time the node accepted it into the mempool


class BroadcastRefused(Exception):
    """CheckTx refused the tx: nothing happened on chain (no fee, no sequence)."""

    def __init__(self, resp: TxResponse) -> None:
        super().__init__(f"{resp.codespace}/{resp.code}: {resp.log}")
        self.response = resp
        self.codespace = resp.codespace
        self.code = resp.code


class TxSender:
    """Signs and broadcasts the worker's txs, one at a time, with a local sequence."""

    def __init__(self, rpc_url: str, key: PrivateKey, waiter: TxWaiter | None = None) -> None:
        self.key = key
        self.waiter = waiter
        self.address = key.bech32
        self.client = NodeClient(rpc_url, timeout=15.0)
        self.lock = threading.Lock()
        self._account: Account | None = None
        self._seq = 0

    def close(self) -> None:
        self.client.close()

    def _refresh(self) -> Account:
        acc = self.client.account(self.address)
        if acc is None:
            raise QueryFailed(
                SDK, 9, f"account {self.address} does not exist on chain; send it some VCN first"
            )
        self._account, self._seq = acc, acc.sequence
        return acc

    def prepare(self) -> None:
        """Fetch what signing needs (chain id, gas price, account) before the first claim."""
        with self.lock:
            self.client.chain_id()
            self.client.min_gas_price()
            self._refresh()

    def send(self, msgs: Sequence[Message], kind: str, gas: int | None = None) -> Sent:
        """Broadcast ``msgs``; returns once CheckTx accepted them, else raises BroadcastRefused.

        ``gas`` defaults to the fixed figure for ``kind``; a tx that runs out of it
        in CheckTx is simulated and sent again with the measured gas."""
        gas = gas or GAS.get(kind, DEFAULT_GAS)
        with self.lock:
            acc = self._account or self._refresh()
            for attempt in range(3):
                raw = self.client.build_tx(self.key, msgs, gas=gas, account=acc, sequence=self._seq)
                tx_hash = _hash(raw)
                if self.waiter is not None:
                    # before the broadcast: its block may come back before send returns
                    self.waiter.expect(tx_hash)
                try:
                    r = self.client.broadcast_tx_sync(raw)
                except Exception:
                    # unknown whether it got in: read the sequence afresh next time
                    self._forget(tx_hash)
                    self._account = None
                    raise
                resp = TxResponse.of(r.get("hash") or tx_hash, 0, r)
                if resp.ok:
                    self._seq += 1
                    return Sent(resp.hash, self._seq - 1, time.monotonic())
                self._forget(tx_hash)
                stale = resp.codespace == SDK and resp.code == CODE_WRONG_SEQUENCE
                if stale and attempt < 2:
                    log.info("sequence %d was stale; reloading the account", self._seq)
                    acc = self._refresh()
                    continue
                if resp.codespace == SDK and resp.code == CODE_OUT_OF_GAS and attempt < 2:
                    # a job with a large inline input or spec costs more to write:
                    # measure this one and send again (same sequence, nothing was used)
                    used = self.client.simulate(raw)
                    log.info("%s needs %d gas, over the fixed %d; resending", kind, used, gas)
                    gas = math.ceil(used * GAS_ADJUSTMENT)
                    continue
                raise BroadcastRefused(resp)
        raise AssertionError("unreachable")

    def _forget(self, tx_hash: str) -> None:
        if self.waiter is not None:
            self.waiter.forget(tx_hash)


def _hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest().upper()


@dataclass
class TxOutcome:
    hash: str
    height: int
    code: int
    codespace: str
    log: str
    events: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return self.code == 0


class TxWaiter:
    """Hands a tx's block result to whoever waits for it."""

    def __init__(self, poll: Callable[[str], TxOutcome | None]) -> None:
        self._poll = poll
        self._lock = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._done: dict[str, TxOutcome] = {}

    def expect(self, tx_hash: str) -> None:
        """Say a result will be waited for (before the block can arrive)."""
        with self._lock:
            self._waiting.setdefault(tx_hash, threading.Event())

    def forget(self, tx_hash: str) -> None:
        with self._lock:
            self._waiting.pop(tx_hash, None)
            self._done.pop(tx_hash, None)

    def resolve(self, outcome: TxOutcome) -> None:
        with self._lock:
            ev = self._waiting.get(outcome.hash)
            if ev is None:
                return
            self._done[outcome.hash] = outcome
            ev.set()

    def wait(
        self, tx_hash: str, timeout: float = 60.0, stream_grace: float = 5.0
    ) -> TxOutcome | None:
        """The tx's outcome, from the stream or (after ``stream_grace``) by polling;
        None when it is not in a block after ``timeout`` seconds."""
        self.expect(tx_hash)
        with self._lock:
            ev = self._waiting[tx_hash]
        deadline = time.monotonic() + timeout
        try:
            if ev.wait(min(stream_grace, timeout)):
                return self._done[tx_hash]
            while time.monotonic() < deadline:
                found = self._poll(tx_hash)
                if found is not None:
                    return found
                if ev.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
                    return self._done[tx_hash]
            return None
        finally:
            with self._lock:
                self._waiting.pop(tx_hash, None)
                self._done.pop(tx_hash, None)


def poll_outcome(client: NodeClient, tx_hash: str) -> TxOutcome | None:
    r = client.get_tx(tx_hash)
    if r is None:
        return None
    return TxOutcome(r.hash, r.height, r.code, r.codespace, r.log, r.events)
