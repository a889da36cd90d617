"""Canary commitments on the oracle's own schedule (``canary_commit_every`` > 0).

Every ``commit_every`` blocks the oracle sends one tx of ``COMMIT_SLOTS``
commitments: those of the canaries run locally since the last one, each bound to
its post (``modules.verification.canary.post_commitment``: the persona's poster key
and the canary's input are known before anything is posted), and random decoys in
the slots left. The txs come at one pace and one size whether a canary is on its way
or not, so they tell a watching worker nothing of when one is posted. Each committed
canary then waits a random 1..commit_every blocks (``release_at``) before its
persona goes on, so its post is not in step with the schedule either
(``tests/oracle/test_canary_unlinkable.py`` measures both).

After a crash a canary whose commitment landed before the state file knew is found
on chain by its hash and not sent again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import TYPE_CHECKING, Any

from chain.client import ChainRefused, QueryFailed
from modules.verification.msgs import MsgCommitCanary
from oracle import canary
from oracle.state import CanaryRecord

if TYPE_CHECKING:
    from oracle.canary_flow import CanaryDeps

log = logging.getLogger("vcoin.oracle.canary")

COMMIT_SLOTS = 4  # commitments in each scheduled tx: canaries' and decoys


def input_hash(rec: CanaryRecord) -> str:
    """The sha256 of the canary's input, as the chain will record it on the post."""
    data = bytes.fromhex(rec.msg["artifact_hex"]) or bytes.fromhex(rec.msg["inline_hex"])
    return hashlib.sha256(data).hexdigest()


def post_commitment(rec: CanaryRecord) -> str:
    """The canary's commitment bound to its post, hex."""
    return canary.post_commitment(
        rec.poster, input_hash(rec), rec.expected_output_hash, rec.salt
    ).hex()


class CommitSchedule:
    def __init__(self, deps: CanaryDeps) -> None:
        self.d = deps

    def send_due(self) -> None:
        """The tick's tx, if one is due (the state's ``next_commit_at``). A refused tx (no
        fee, the oracle unbonded) is logged and left to the next tick: it must not hold up
        the oracle's other work."""
        every = self.d.commit_every
        st = self.d.state()
        if every <= 0 or not self.d.enabled:
            return
        height = self.d.node.latest_height()
        if height < st.next_commit_at:
            return
        waiting = [
            c
            for c in sorted(st.canaries.values(), key=lambda c: c.local_id)
            if c.stage == "prepared" and c.bound_to_post and not c.commit_height
        ]
        msgs: list[Any] = []
        taken: list[CanaryRecord] = []
        for rec in waiting:
            c = post_commitment(rec)
            try:  # committed before a crash, before the state file knew
                found = self.d.node.query("verification", "canary", {"commitment": c})
                self.committed(rec, int(found["height"]))
                continue
            except QueryFailed:
                pass
            if len(msgs) < COMMIT_SLOTS:
                msgs.append(MsgCommitCanary(oracle=self.d.address, commitment=c))
                taken.append(rec)
        while len(msgs) < COMMIT_SLOTS:  # a decoy: as random as a sha256 to whoever sees it
            msgs.append(MsgCommitCanary(oracle=self.d.address, commitment=secrets.token_hex(32)))
        st.next_commit_at = height + every
        try:
            resp = self.d.node.send_tx(self.d.account, msgs, gas="auto")
        except ChainRefused as e:  # the next tick tries again; the other steps go on
            log.error("canary commitments refused, retried in %d blocks: %s", every, e)
            return
        for rec in taken:
            self.committed(rec, resp.height)
        log.info(
            "canary commitments sent",
            extra={"canaries": len(taken), "decoys": COMMIT_SLOTS - len(taken)},
        )

    def committed(self, rec: CanaryRecord, height: int) -> None:
        """``rec``'s commitment is on chain at ``height``: it goes on a random 1..E later."""
        rec.commit_height = height
        rec.release_at = height + 1 + self.d.rng.randrange(max(1, self.d.commit_every))
        self.d.metrics.canaries.labels("committed").inc()

    def released(self, rec: CanaryRecord) -> bool:
        """Committed, and past the random wait after its commitment."""
        return rec.commit_height > 0 and self.d.node.latest_height() >= rec.release_at
