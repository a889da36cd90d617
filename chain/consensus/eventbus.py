"""Publish NewBlock and Tx events to subscribers (the RPC websocket, tx waiters).

A subscriber gives a predicate over the event's flat attribute map
(``{"tm.event": ["Tx"], "transfer.recipient": [...], ...}``) and gets a
bounded queue; a subscriber that stops reading loses its oldest messages
rather than slowing block production.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Attrs = dict[str, list[str]]
Predicate = Callable[[Attrs], bool]


@dataclass(frozen=True)
class Message:
    kind: str  # "NewBlock" | "Tx"
    data: dict[str, Any]  # CometBFT's JSON shape of the event data
    attrs: Attrs


class Subscription:
    def __init__(self, sid: int, predicate: Predicate, maxsize: int) -> None:
        self.id = sid
        self.predicate = predicate
        self.queue: queue.Queue[Message] = queue.Queue(maxsize)
        self.dropped = 0

    def offer(self, msg: Message) -> None:
        while True:
            try:
                self.queue.put_nowait(msg)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass


class EventBus:
    def __init__(self) -> None:
        self._subs: dict[int, Subscription] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def subscribe(self, predicate: Predicate, maxsize: int = 10_000) -> Subscription:
        with self._lock:
            sub = Subscription(next(self._ids), predicate, maxsize)
            self._subs[sub.id] = sub
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.pop(sub.id, None)

    def publish(self, msg: Message) -> None:
        with self._lock:
            subs = list(self._subs.values())
        for s in subs:
            try:
                match = s.predicate(msg.attrs)
            except Exception:
                match = False
            if match:
                s.offer(msg)

    def count(self) -> int:
        with self._lock:
            return len(self._subs)
