"""Seeded marketplace simulations over real Apps.

* Every invariant after every block of a long random run (posting, claim races,
  honest, cheating and vanishing workers, cancels, give-backs, oracles, canaries,
  epochs of minting): the supply equals genesis + minted − burned, the escrow
  account the open escrows, bonds their pool, no balance is negative, every job
  is in exactly one state; a second App fed the same blocks agrees on every app
  hash.
* Honest and cheating workers: the cheater is caught, loses reputation, is
  slashed under 50 and banned under 30; honest workers are never slashed.
* Genesis export of a chain with jobs in every state, re-imported, gives the
  same app hash and goes on to produce the same blocks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.app import App
from chain.coins import DENOM
from chain.crypto import PrivateKey
from chain.results import BlockResult
from modules.jobs import msgs as jm
from modules.jobs import state as jobs_state
from modules.verification import canary
from modules.verification import msgs as vm
from tests.support.chain import PLATFORM, new_app, run_block, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, oracle_key, output_of
from tests.support.stake import bond_msg

MODELS = ("tiny-lm", "minilm")
WORKER_BOND = 1_000 * VCN
TASK = {"tiny-lm": "text-generation", "minilm": "embedding"}


def amount(text: str) -> int:
    return int(text.removesuffix(DENOM))


@dataclass
class Actor:
    key: PrivateKey
    cheat_rate: float = 0.0  # share of its results that are junk
    vanish_rate: float = 0.0  # share of its claims it never finishes
    holding: dict[int, int] = field(default_factory=dict)  # job id → block to submit at


class Sim:
    """Drives a Market with seeded random traffic; keeps the books from events."""

    def __init__(
        self,
        m: Market,
        seed: int,
        workers: Sequence[Actor],
        oracles: Sequence[PrivateKey],
        posters: Sequence[PrivateKey],
        mirror: App | None = None,
    ) -> None:
        self.m = m
        self.rng = random.Random(seed)
        self.workers = list(workers)
        self.oracles = list(oracles)
        self.posters = list(posters)
        self.mirror = mirror
        self.attested: set[tuple[bytes, int]] = set()
        # job id -> (oracle, expected hash, salt, poster: the key that signs the reveal)
        self.canaries: dict[int, tuple[PrivateKey, bytes, bytes, PrivateKey]] = {}
        self.burned = 0
        self.minted = 0
        self.genesis_supply = m.supply()
        self.slashed: dict[str, int] = {}
        self.rejected: dict[str, int] = {}

    # -- reads -----------------------------------------------------------------
    def ids(self, state: str) -> list[int]:
        return [int(j["id"]) for j in self.m.q("jobs", "jobs", state=state, limit=200)["jobs"]]

    def active(self, key: PrivateKey) -> bool:
        return self.m.staking.is_active(self.m.ctx(), key.address, "worker")

    # -- one block of traffic --------------------------------------------------------
    def step(self) -> BlockResult:
        m, rng = self.m, self.rng
        txs: list[bytes] = []
        next_id = jobs_state.next_job_id(m.app.query_ctx())
        if self.oracles and rng.random() < 0.15:  # a canary, first in the block: its id is known
            poster = rng.choice(self.posters)
            txs.append(m.sign(poster, [m.post_msg(poster, max_price=3 * VCN, prompt=b"canary")]))
            oracle, salt = rng.choice(self.oracles), rng.randbytes(16)
            c = canary.commitment(next_id, output_of(next_id), salt)
            txs.append(
                m.sign(oracle, [vm.MsgCommitCanary(oracle=oracle.bech32, commitment=c.hex())])
            )
            self.canaries[next_id] = (oracle, output_of(next_id), salt, poster)
        for _ in range(rng.randint(0, 4)):
            poster = rng.choice(self.posters)
            model = rng.choice(MODELS)
            price = rng.randint(1, 20) * VCN // 4
            msg = m.post_msg(poster, max_price=price, model=model, task_type=TASK[model])
            msg.priority = rng.randint(0, 3)
            if rng.random() < 0.2:
                msg.claim_blocks = rng.randint(2, 8)
            txs.append(m.sign(poster, [msg]))
        queued = self.ids("queued")
        for job_id in queued[:2] if rng.random() < 0.1 else []:
            j = m.job(job_id)
            poster = next((p for p in self.posters if p.address == j.poster), None)
            if poster is not None:
                txs.append(m.sign(poster, [jm.MsgCancelJob(poster=poster.bech32, job_id=job_id)]))
        for w in self.workers:
            txs += self._worker_txs(w, queued)
        txs += self._oracle_txs()
        result = m.block(txs)
        self._book(result)
        if self.mirror is not None:
            mirrored = run_block(self.mirror, txs, m.app.last_block_time_ns)
            assert mirrored.app_hash == result.app_hash, f"apps diverge at {result.height}"
        return result

    def _worker_txs(self, w: Actor, queued: list[int]) -> list[bytes]:
        m, rng = self.m, self.rng
        out: list[bytes] = []
        h = m.height + 1
        ctx = m.ctx()
        short = WORKER_BOND - m.staking.bonded(ctx, w.key.address, "worker")
        if short > 0 and not m.staking.is_tombstoned(ctx, w.key.address, "worker"):
            out.append(m.sign(w.key, [bond_msg(w.key, "worker", short)]))  # top up after a slash
        for job_id, at in sorted(w.holding.items()):
            j = m.job(job_id)
            if j.state != "claimed" or j.worker != w.key.address:
                del w.holding[job_id]  # timed out and requeued, or otherwise gone
            elif at == h:
                del w.holding[job_id]
                if rng.random() < 0.05:
                    rel = jm.MsgReleaseJob(
                        worker=w.key.bech32, job_id=job_id, reason="bye", retry=rng.random() < 0.5
                    )
                    out.append(m.sign(w.key, [rel]))
                    continue
                honest = rng.random() >= w.cheat_rate
                out.append(m.sign(w.key, [m.submit_msg(w.key, job_id, output_of(job_id, honest))]))
        if queued and len(w.holding) < 3 and self.active(w.key) and rng.random() < 0.7:
            job_id = rng.choice(queued[:6])
            out.append(m.sign(w.key, [jm.MsgClaimJob(worker=w.key.bech32, job_id=job_id)]))
            vanish = rng.random() < w.vanish_rate
            w.holding[job_id] = h + (10_000 if vanish else 1 + rng.randint(0, 2))
        return out

    def _oracle_txs(self) -> list[bytes]:
        m, rng = self.m, self.rng
        out: list[bytes] = []
        for p in m.q("verification", "checking", limit=100)["pending"]:
            job_id = int(p["job_id"])
            truth = m.job(job_id).output_hash == output_of(job_id)
            for o in self.oracles:
                if (o.address, job_id) not in self.attested and rng.random() < 0.8:
                    self.attested.add((o.address, job_id))
                    out.append(m.sign(o, [m.attest_msg(o, job_id, "pass" if truth else "fail")]))
        posted = jobs_state.next_job_id(m.app.query_ctx())
        for job_id, (o, expected, salt, poster) in sorted(self.canaries.items()):
            if job_id < posted and m.pending(job_id) is not None and rng.random() < 0.7:
                del self.canaries[job_id]
                out.append(m.sign(o, [m.reveal_msg(o, job_id, expected, salt, poster)]))
        return out

    def _book(self, b: BlockResult) -> None:
        evs = list(b.events) + [e for t in b.tx_results for e in t.events]
        for e in evs:
            if e.type == "burn":
                self.burned += amount(str(e.get("amount")))
            elif e.type == "coinbase":
                self.minted += amount(str(e.get("amount")))
            elif e.type == "Slashed":
                who = str(e.get("address"))
                self.slashed[who] = self.slashed.get(who, 0) + int(str(e.get("amount")))
            elif e.type == "JobRejected":
                who = str(e.get("worker"))
                self.rejected[who] = self.rejected.get(who, 0) + 1
        assert self.m.supply() == self.genesis_supply + self.minted - self.burned
        assert int(self.m.q("mint", "minted")["total_minted"]) == self.minted


def setup(
    m: Market, workers: Sequence[Actor], oracles: Sequence[PrivateKey], mirror: App | None = None
) -> None:
    """Register and bond the workers and oracles in one block (on ``mirror`` too)."""
    txs = []
    for w in workers:
        reg = m.register_worker_msg(
            w.key, models=list(MODELS), task_types=sorted(TASK.values()), price_floor=VCN
        )
        txs.append(m.sign(w.key, [reg, bond_msg(w.key, "worker", WORKER_BOND)]))
    for i, o in enumerate(oracles):
        sk = oracle_key(f"sim{i}")
        m.oracle_keys[o.address] = sk
        txs.append(m.sign(o, [bond_msg(o, "oracle", 10_000 * VCN, bytes(sk.verify_key))]))
    result = m.block(txs)
    for r in result.tx_results:
        assert r.code == 0, r.log
    if mirror is not None:
        assert run_block(mirror, txs, m.app.last_block_time_ns).app_hash == result.app_hash


def test_random_marketplace_keeps_every_invariant_and_two_apps_agree(
    make_app: Callable[..., App],
) -> None:
    genesis = market_genesis(
        verification={"attest_window_blocks": 6, "base_sample_bps": 3000, "max_sample_bps": 6000},
        jobs={"default_claim_blocks": 15, "default_result_blocks": 4},
        mint={"epoch_blocks": 25},
        staking={"jail_blocks": 10},
    )
    m = Market(make_app(genesis))
    workers = [
        Actor(test_key(0)),
        Actor(test_key(1)),
        Actor(test_key(2), cheat_rate=0.4),
        Actor(test_key(3), vanish_rate=0.3),
    ]
    oracles = [test_key(20), test_key(21)]
    setup(m, workers, oracles)
    sim = Sim(m, 7, workers, oracles, [test_key(i) for i in range(10, 16)])
    states: set[str] = set()
    for _ in range(160):
        sim.step()  # Market.block checks every module invariant after each block
        states |= {s for s in ("settled", "rejected", "expired", "cancelled") if sim.ids(s)}
    assert states == {"settled", "rejected", "expired", "cancelled"}
    assert sim.minted > 0 and sim.burned > 0


def test_two_apps_fed_the_same_blocks_agree_on_every_app_hash(
    make_app: Callable[..., App],
) -> None:
    genesis = market_genesis(verification={"base_sample_bps": 4000, "max_sample_bps": 6000})
    a, b = make_app(genesis), make_app(genesis)
    m = Market(a)
    workers = [Actor(test_key(0)), Actor(test_key(1), cheat_rate=0.5)]
    oracles = [test_key(20)]
    setup(m, workers, oracles, mirror=b)
    sim = Sim(m, 11, workers, oracles, [test_key(i) for i in range(10, 14)], mirror=b)
    for _ in range(60):
        sim.step()
    assert b.info().last_block_app_hash == a.info().last_block_app_hash


def test_cheaters_are_caught_slashed_and_banned_and_honest_workers_never_slashed(
    make_app: Callable[..., App],
) -> None:
    genesis = market_genesis(
        verification={"attest_window_blocks": 4},
        jobs={"default_claim_blocks": 30, "default_result_blocks": 4},
        staking={"jail_blocks": 5},
        reputation={"heartbeat_interval_blocks": 10_000},
    )
    m = Market(make_app(genesis))
    honest = [Actor(test_key(i)) for i in range(3)]
    cheater = Actor(test_key(3), cheat_rate=0.5)
    oracles = [test_key(20), test_key(21)]
    setup(m, [*honest, cheater], oracles)
    stakes = {w.key.bech32: m.bonded(w.key) for w in honest}
    sim = Sim(m, 2026, [*honest, cheater], oracles, [test_key(i) for i in range(10, 18)])
    for _ in range(400):
        sim.step()
        if m.staking.is_tombstoned(m.ctx(), cheater.key.address, "worker"):
            break
    c = cheater.key
    assert m.staking.is_tombstoned(m.ctx(), c.address, "worker"), "the cheater was never banned"
    assert m.score(c) < 3_000
    assert sim.rejected.get(c.bech32, 0) >= 4
    assert sim.slashed.get(c.bech32, 0) > 0
    for w in honest:
        assert w.key.bech32 not in sim.slashed and w.key.bech32 not in sim.rejected
        assert m.bonded(w.key) == stakes[w.key.bech32]
        assert m.reputation.stats(m.ctx(), w.key.address).penalties_bps == 0
    # A banned worker cannot claim again.
    jid = m.post(test_key(10))
    r = m.claim(c, jid)
    assert (r.codespace, r.code) == ("jobs", 12)


def test_genesis_export_of_jobs_in_every_state_reimports_to_the_same_app_hash(
    make_app: Callable[..., App], tmp_path: Any
) -> None:
    genesis = market_genesis(
        verification={"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 30}
    )
    m = Market(make_app(genesis))
    w1, w2, poster, o1 = test_key(0), test_key(1), test_key(10), test_key(20)
    m.bond_oracle(o1, "o1")
    m.setup_worker(w1, max_concurrent=10)
    m.setup_worker(w2, max_concurrent=10)
    states = {}
    states["queued"] = m.post(poster, prompt=b"a long prompt " * 60)  # kept apart
    states["claimed"] = m.post(poster, result_blocks=500)
    m.claim(w1, states["claimed"])
    states["submitted"] = m.post(poster)
    m.claim(w1, states["submitted"])
    m.submit(w1, states["submitted"])
    states["cancelled"] = m.post(poster)
    m.cancel(poster, states["cancelled"])
    states["expired"] = m.post(poster, claim_blocks=1)
    states["failed"] = m.post(poster)
    m.claim(w2, states["failed"])
    m.release(w2, states["failed"], retry=False, reason="bad spec")
    # Checking, rejected and settled need sampling; switch it on for one job each.
    always = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 50}
    assert m.update_params(PLATFORM, "verification", always).code == 0
    for name in ("checking", "rejected", "settled"):
        states[name] = m.post(poster)
        m.claim(w2, states[name])
        m.submit(w2, states[name], output=output_of(states[name], name != "rejected"))
    m.block([])
    m.attest(o1, states["rejected"], "fail")
    m.attest(o1, states["settled"], "pass")
    m.commit_canary(o1, 999, output_of(999), bytes(16))  # an open commitment too
    got = {name: m.job(i).state for name, i in states.items()}
    assert got == {name: name for name in states}, got
    exported = m.app.export_genesis()
    height, app_hash = m.height, m.app_hash
    doc = {"chain_id": m.app.chain_id, "app_state": exported, "initial_height": str(height + 1)}
    twin = new_app(tmp_path / "twin", doc)
    try:
        assert twin.info().last_block_app_hash == app_hash
        assert twin.export_genesis() == exported
        # Deadlines and timers carry over: the next blocks agree too.
        t = m.app.last_block_time_ns
        for i in range(1, 6):
            a = run_block(m.app, [], t + i * 10**9)
            b = run_block(twin, [], t + i * 10**9)
            assert a.app_hash == b.app_hash
        assert m.job(states["expired"]).state == "expired"
    finally:
        twin.close()
