"""A worker that traces coins cannot pick canaries out of real jobs (oracle/README.md,
"Canaries that cannot be told apart").

A market runs on the real app, in process. Real users arrive as new keys that
claim a drip from the pool (``modules/drip``), wait a few blocks, and post one to
three jobs. The oracle plants canaries as ``oracle.canary_flow`` does, through
*personas*: it keeps the real posters it sees (``OracleState.note_poster``); once
one has been idle ``SETTLE_BLOCKS`` (settled), for a real job seen posted it may
start a persona (``starts_persona``), which imitates a random settled poster
(``model_poster``): a fresh key claims its drip (the pool
topped up in bulk when it runs low) after a local run of a few blocks, waits as
long as that poster waited between its drip and its first job
(``posting_delay``), then posts as many canaries as that poster posted jobs, each
planned from a random recent real job (``canary.plan_from``) and posted a real
gap after the previous (``draw_gap``; the next one's local run starts when the
previous is funded), unless its balance cannot pay one; once its last job is
over it sweeps the leftover into the pool. Two more markets are controls that
show the test can fail: the previous flow (one canary per key, otherwise the
same), and the OLD funding path besides (users funded by a transfer from the
devnet faucet, canaries by a transfer from the oracle, the leftover swept back
to the oracle). The txs of a block go in a random order (the order they reached
the proposer in), not in the order the simulation scheduled them.

The worker's view is built from the blocks' events alone (what ``block_results``
and ``tx_search`` serve) and the ``job`` query. Per job, at the block it was posted:

    funding   whether the poster's first coins came from the pool / from an oracle,
              how much, blocks since then
    history   how many jobs the poster posted before
    timing    blocks since the previous job on chain
    shape     price, input bytes, task type, priority

Two classifiers (the best single-feature threshold, and logistic regression over
the features given) are trained on half of a balanced sample of canaries and real
jobs and scored on the other half; the better one counts. A worker that does no
better than chance scores within the binomial interval of 0.5 (z = 2.576, 99 %),
on either side.

The oracle's commitment txs are on chain too, as the driver sends them: on its own
schedule (``canary_commit_every`` blocks apart, ``COMMIT_SLOTS`` commitments each,
decoys in the slots no canary takes; a canary goes on a random 1..E blocks after its
tick), so the worker also sees

    commits   blocks since the latest block with a canary commitment in it

A third control runs the personas market with the precommit by job id instead
(``canary_commit_every`` 0: a tx of ``PRECOMMIT`` commitments in the block before
each canary's post), which that feature gives away.

Print the figures: ``.venv/bin/python -m pytest -q -s -p no:cacheprovider
tests/oracle/test_canary_unlinkable.py``
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from nacl.signing import SigningKey

from app.app import App
from chain.crypto import PrivateKey, module_address, to_bech32
from chain.events import Event
from modules.drip.ante import sponsored_claim
from modules.drip.msgs import MsgFundPool
from modules.verification.msgs import MsgCommitCanary
from oracle import canary
from oracle.canary_flow import (
    FEE_GAS_BUDGET,
    POOL_LOW_DRIPS,
    POOL_TOP_UP_DRIPS,
    POST_STEPS,
    PRECOMMIT,
    SETTLE_BLOCKS,
    SWEEP_GAS,
    draw_gap,
    model_poster,
    posting_delay,
    starts_persona,
)
from oracle.canary_schedule import COMMIT_SLOTS
from oracle.config import OracleConfig
from oracle.state import OracleState, PosterSeen
from tests.support.chain import CHAIN_ID, FAUCET, GAS_PRICE, VCN, Chain, msg_send, test_key
from tests.support.genesis import market_genesis
from tests.support.stake import bond_msg

ORACLE = test_key(0)
BLOCKS = 640
ARRIVAL = 0.5  # a new user per block, on average
CANARY_PER_JOB = 0.5  # canaries per real job seen (the chain's 5 % is rarer; the test wants many)
JOB_OVER = 60  # blocks from a canary's post until its job is over (revealed or settled)
Z = 2.576  # 99 % two-sided
POOL = to_bech32(module_address("drip_pool"))
FEE_COLLECTOR = to_bech32(module_address("fee_collector"))
FEATURES = (
    "from_pool",
    "from_oracle",
    "funded_vcn",
    "blocks_since_funding",
    "prior_jobs",
    "blocks_since_last_job",
    "price_vcn",
    "input_bytes",
    "embedding",
    "priority",
    "blocks_since_commit",
)
FUNDING = ("from_pool", "from_oracle", "funded_vcn", "blocks_since_funding")
HISTORY = ("prior_jobs",)
COMMITS = ("blocks_since_commit",)
EVERY = OracleConfig().canary_commit_every  # the oracle's default schedule


# -- the market ---------------------------------------------------------------------------
@dataclass
class Persona:
    """A canary poster key, as ``oracle.canary_flow`` keeps one."""

    key: PrivateKey
    target: int  # canaries to post at most
    model: tuple[str, PosterSeen] | None  # the settled real poster it imitates
    posted: int = 0
    last_post: int = 0
    ready: int = 0  # on the schedule: when its latest planned canary's local run ended
    funded_before: int = 0  # on the schedule: when the canary before its latest went on


@dataclass
class Market:
    chain: Chain
    pool_funding: bool  # True: the drip pool; False: the old transfers
    personas: bool  # True: personas; False: the previous flow, one canary per key
    rng: random.Random
    drip: int
    commit_every: int  # the oracle's canary_commit_every (0: a precommit before each post)
    todo: dict[int, list[Callable[[], list[bytes]]]] = field(default_factory=dict)
    canary_keys: set[str] = field(default_factory=set)
    seen: OracleState = field(default_factory=OracleState)  # what the oracle keeps of users
    blocks: list[tuple[int, list[Event]]] = field(default_factory=list)
    dripped_at: dict[str, int] = field(default_factory=dict)
    n_users: int = 0
    n_canaries: int = 0
    claims: int = 0  # drips claimed in the block being built
    top_ups: int = 0  # drips' worth deposited in the block being built

    @property
    def height(self) -> int:
        return self.chain.height

    def at(self, height: int, action: Callable[[], list[bytes]]) -> None:
        self.todo.setdefault(height, []).append(action)

    def run(self, blocks: int) -> None:
        for _ in range(blocks):
            h = self.height + 1
            self.arrivals(h)
            if self.commit_every and h % self.commit_every == 1:
                self.at(h, lambda: self.commit_tx(COMMIT_SLOTS))  # on the schedule
            self.claims = self.top_ups = 0
            acts = self.todo.pop(h, [])
            self.rng.shuffle(acts)  # the order txs reach the proposer in, not scheduled in
            txs = [raw for act in acts for raw in act()]
            result = self.chain.block(txs)
            for r in result.tx_results:
                assert r.code == 0, f"block {h}: {r.codespace}/{r.code} {r.log}"
            events = [e for r in result.tx_results for e in r.events]
            self.blocks.append((h, events))
            for e in events:
                if e.type == "Dripped":
                    self.dripped_at[str(e.get("recipient"))] = h
                if e.type == "JobPosted" and e.get("poster") not in self.canary_keys:
                    # CanaryDriver.on_posted, with the oracle's last height h - 1
                    self.seen.note_job(int(str(e.get("job_id"))))
                    self.seen.note_poster(str(e.get("poster")), h)
                    if self.rng.random() < CANARY_PER_JOB and (
                        not self.personas or starts_persona(self.settled(h - 1), self.rng)
                    ):
                        self.start_persona(h)

    # real users ----------------------------------------------------------------------------
    def arrivals(self, h: int) -> None:
        if self.rng.random() >= ARRIVAL:
            return
        key = PrivateKey.from_seed(b"unlinkable-user-%d-%d" % (self.pool_funding, self.n_users))
        self.n_users += 1
        self.at(h, lambda: self.fund_user(key))
        t = h + self.rng.randint(1, 8)
        for _ in range(self.rng.randint(1, 3)):
            self.at(t, lambda: self.user_job(key))
            t += self.rng.randint(1, 15)

    def fund_user(self, key: PrivateKey) -> list[bytes]:
        if not self.pool_funding:
            return [self.chain.sign(FAUCET, [msg_send(FAUCET, key, self.drip)])]
        # the platform's faucet budget, in bulk, as the oracles' canary budget
        return [*self.keep_pool_stocked(FAUCET), self.claim(key)]

    def claim(self, key: PrivateKey) -> bytes:
        self.claims += 1
        return sponsored_claim(key, CHAIN_ID)

    def user_job(self, key: PrivateKey) -> list[bytes]:
        embedding = self.rng.random() < 0.4
        name = "texts" if embedding else "prompts"
        items = [self.sentence() for _ in range(self.rng.randint(1, 4))]
        msg = canary.post_msg(
            key.bech32,
            {
                "task_type": "embedding" if embedding else "text-generation",
                "model": "minilm" if embedding else "tiny-lm",
                "spec": "",
                "max_price": str(self.rng.randint(10, 30) * VCN // 10),
                "priority": self.rng.choice((0, 0, 0, 1, 5)),
                "claim_blocks": 0,
                "result_blocks": 0,
                "min_gpu_memory_mib": 0,
                "min_gpu_count": 0,
                "gpu_model": "",
            },
            canary.canonical({name: items}),
            "",
        )
        if self.chain.balance(key) < int(msg.max_price) + 200_000 * GAS_PRICE:
            return []  # spent: this user stops here
        return [self.chain.sign(key, [msg])]

    def sentence(self) -> str:
        return " ".join(self.rng.choice(canary.WORDS) for _ in range(self.rng.randint(2, 16)))

    def keep_pool_stocked(self, who: PrivateKey) -> list[bytes]:
        """What the oracle daemon does before a claim (``CanaryDriver.fund``), here just
        ahead of the claim in its block; the faucet operator does the same for users."""
        held = self.chain.balance(module_address("drip_pool")) // self.drip
        if held + self.top_ups - self.claims >= POOL_LOW_DRIPS:
            return []
        self.top_ups += POOL_TOP_UP_DRIPS
        msg = MsgFundPool(depositor=who.bech32, amount=str(POOL_TOP_UP_DRIPS * self.drip))
        return [self.chain.sign(who, [msg])]

    # canaries, as oracle.canary_flow plants them -----------------------------------------------
    def commit_tx(self, n: int) -> list[bytes]:
        """The oracle's commitment tx: ``n`` commitments (a canary's or a decoy, they look
        alike; nothing here is revealed, so all are random)."""
        msgs = [
            MsgCommitCanary(oracle=ORACLE.bech32, commitment=self.rng.randbytes(32).hex())
            for _ in range(n)
        ]
        return [self.chain.sign(ORACLE, msgs)]

    def released(self, ready: int) -> int:
        """On the schedule: the height a canary run locally by ``ready`` may go on from, its
        tick's tx and a random 1..E blocks after it (``CanaryDriver.committed``)."""
        e = self.commit_every
        tick = ready + (1 - ready) % e  # the first height ≥ ready that is 1 mod e
        return tick + self.rng.randint(1, e)

    def post_at(self, height: int, action: Callable[[], list[bytes]]) -> None:
        """Schedule a canary's post; with no schedule, its precommit goes in the block
        before."""
        if not self.commit_every:
            self.at(height - 1, lambda: self.commit_tx(PRECOMMIT))
        self.at(height, action)

    def settled(self, now: int) -> list[tuple[str, PosterSeen]]:
        return self.seen.settled_posters(now, SETTLE_BLOCKS)

    def start_persona(self, h: int) -> None:
        model = model_poster(self.settled(h - 1), self.rng) if self.personas else None
        key = PrivateKey.from_seed(
            b"unlinkable-canary-%d-%d-%d" % (self.pool_funding, self.personas, self.n_canaries)
        )
        self.n_canaries += 1
        self.canary_keys.add(key.bech32)
        p = Persona(key, model[1].jobs if model else 1, model)
        funded = h + self.rng.randint(1, 3)  # the first canary's local run
        if self.commit_every:
            p.ready = funded
            funded = self.released(funded)  # then its commitment on the schedule
        self.at(funded, lambda: self.fund_persona(p))

    def template(self, job_id: int) -> dict[str, Any]:
        job: dict[str, Any] = self.chain.app.custom_query("jobs", "job", {"id": job_id})
        return job

    def plan(self) -> canary.Planned:
        job = self.template(self.rng.choice(self.seen.job_mix))  # the daemon's recent job mix
        plan = canary.plan_from(job, None, self.rng)
        assert plan is not None
        return plan

    def fund_persona(self, p: Persona) -> list[bytes]:
        """The persona's first canary is prepared: its key claims its drip, and it waits as
        the real poster it imitates waited before its first job (``new_persona``)."""
        funded = self.height + 1
        job = self.template(self.rng.choice(self.seen.job_mix))
        plan = canary.plan_from(job, None, self.rng)
        assert plan is not None
        if p.model is None:
            first, at = job, self.dripped_at.get(str(job["poster"]))
        else:
            first, at = {"posted_height": p.model[1].first}, self.dripped_at.get(p.model[0])
        steps = 1 if self.commit_every else POST_STEPS  # drip, (precommit,) post
        if self.pool_funding:
            txs = [*self.keep_pool_stocked(ORACLE), self.claim(p.key)]
            post = funded + max(steps, posting_delay(first, at))
        else:
            cost = int(plan.fields["max_price"]) + FEE_GAS_BUDGET * GAS_PRICE
            txs = [self.chain.sign(ORACLE, [msg_send(ORACLE, p.key, cost)])]
            post = funded + steps  # the old driver: fund, precommit, post
        self.post_at(post, lambda: self.post(p, plan, funded))
        return txs

    def post(self, p: Persona, plan: canary.Planned, funded: int) -> list[bytes]:
        """Post the persona's next canary (``funded``: the block its predecessor was funded
        in, when this one's local run began), then schedule the one after it, or its end."""
        if p.posted and self.chain.balance(p.key) < int(plan.fields["max_price"]) + (
            FEE_GAS_BUDGET * GAS_PRICE
        ):
            self.end(p)  # spent: it posts no more
            return []
        at = self.height + 1
        p.posted, p.last_post = p.posted + 1, at
        if p.posted < p.target:
            nxt = self.plan()
            if self.commit_every:
                # planned once its predecessor was run locally and the one before that
                # went on (``CanaryDriver.tend``), then run, then committed on the schedule
                ready = max(p.ready, p.funded_before) + self.rng.randint(1, 3)
                p.ready, p.funded_before = ready, funded
                ready, least = self.released(ready), 1
            else:  # planned once its predecessor went on, then run, then precommitted
                ready, least = funded + self.rng.randint(1, 3) + POST_STEPS, POST_STEPS
            gap = max(least, draw_gap(self.seen.gaps, self.rng))
            goes_on = max(at, ready - least)  # its "funded": after its predecessor's post
            self.post_at(max(at + gap, ready), lambda: self.post(p, nxt, goes_on))
        else:
            self.end(p)
        msg = canary.post_msg(p.key.bech32, plan.fields, plan.inline, "")
        return [self.chain.sign(p.key, [msg])]

    def end(self, p: Persona) -> None:
        """The persona plans no more: it sweeps once its last job is over."""
        self.at(max(self.height + 2, p.last_post + JOB_OVER), lambda: self.sweep(p.key))

    def sweep(self, key: PrivateKey) -> list[bytes]:
        fee = SWEEP_GAS * GAS_PRICE
        left = self.chain.balance(key) - fee
        if left <= 0:
            return []
        if self.pool_funding:
            msg: Any = MsgFundPool(depositor=key.bech32, amount=str(left))
        else:
            msg = msg_send(key, ORACLE, left)
        return [self.chain.sign(key, [msg], gas_limit=SWEEP_GAS, fee_amount=fee)]


def simulate(
    app: App, pool_funding: bool, personas: bool, seed: int, commit_every: int = EVERY
) -> Market:
    drip = int(app.custom_query("drip", "params", {})["drip_amount"])
    m = Market(Chain(app), pool_funding, personas, random.Random(seed), drip, commit_every)
    ed25519 = bytes(SigningKey(hashlib.sha256(b"unlinkable oracle").digest()).verify_key)
    bonded = m.chain.block(
        [m.chain.sign(ORACLE, [bond_msg(ORACLE, "oracle", 10_000 * VCN, ed25519)])]
    )
    assert bonded.tx_results[0].code == 0, bonded.tx_results[0].log
    m.run(BLOCKS)
    return m


# -- the worker's view ----------------------------------------------------------------------
def worker_view(m: Market) -> tuple[np.ndarray, np.ndarray]:
    """One row of ``FEATURES`` per job, from the events of the blocks and the job query;
    and whether each job was a canary (the label the worker wants)."""
    oracles = {ORACLE.bech32}  # bonded oracles are public
    funded: dict[str, tuple[int, str, int]] = {}  # address -> (height, sender, amount)
    jobs_of: dict[str, int] = {}
    last_job = last_commit = 0
    rows, labels = [], []
    for h, events in m.blocks:
        if any(e.type == "CanaryCommitted" for e in events):
            last_commit = h
        for e in events:
            if e.type == "transfer":
                to, frm = str(e.get("recipient")), str(e.get("sender"))
                if to != FEE_COLLECTOR and to not in funded:
                    funded[to] = (h, frm, int(str(e.get("amount")).removesuffix("avcn")))
        for e in events:
            if e.type != "JobPosted":
                continue
            poster = str(e.get("poster"))
            job = m.template(int(str(e.get("job_id"))))
            fh, sender, amount = funded[poster]
            rows.append(
                [
                    float(sender == POOL),
                    float(sender in oracles),
                    amount / VCN,
                    h - fh,
                    jobs_of.get(poster, 0),
                    h - last_job,
                    int(job["max_price"]) / VCN,
                    len(base64.b64decode(job["inline_input"])),
                    float(job["task_type"] == "embedding"),
                    int(job["priority"]),
                    h - last_commit,
                ]
            )
            labels.append(poster in m.canary_keys)
            jobs_of[poster] = jobs_of.get(poster, 0) + 1
            last_job = h
    return np.array(rows, dtype=float), np.array(labels, dtype=bool)


# -- the classifiers ------------------------------------------------------------------------
def balanced_halves(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    n = min(len(pos), len(neg)) // 2 * 2
    pos, neg = rng.permutation(pos)[:n], rng.permutation(neg)[:n]
    train = np.concatenate([pos[: n // 2], neg[: n // 2]])
    test = np.concatenate([pos[n // 2 :], neg[n // 2 :]])
    return x[train], y[train], x[test], y[test]


def best_threshold(xtr: np.ndarray, ytr: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The single feature, threshold and direction that score best on the training half."""
    best = (0.0, 0, 0.0, True)
    for f in range(xtr.shape[1]):
        for t in np.unique(xtr[:, f]):
            for above in (True, False):
                guess = (xtr[:, f] >= t) if above else (xtr[:, f] < t)
                acc = float(np.mean(guess == ytr))
                if acc > best[0]:
                    best = (acc, f, float(t), above)
    _, f, t, above = best
    return lambda x: (x[:, f] >= t) if above else (x[:, f] < t)


def logistic(xtr: np.ndarray, ytr: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    mu, sd = xtr.mean(axis=0), xtr.std(axis=0) + 1e-9
    a = np.hstack([(xtr - mu) / sd, np.ones((len(xtr), 1))])
    w = np.zeros(a.shape[1])
    for _ in range(2000):
        p = 1 / (1 + np.exp(-a @ w))
        w -= 0.5 * (a.T @ (p - ytr) / len(ytr) + 1e-3 * w)

    def predict(x: np.ndarray) -> np.ndarray:
        b = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
        return np.asarray(b @ w > 0)

    return predict


@dataclass(frozen=True)
class Score:
    accuracy: float  # the better classifier's, on the held-out half
    n_test: int

    @property
    def chance_bound(self) -> float:
        return 0.5 + Z * math.sqrt(0.25 / self.n_test)

    @property
    def at_chance(self) -> bool:
        """Within the interval either side: a score well under 0.5 would be a signal too
        (the worker would turn its guesses round)."""
        return abs(self.accuracy - 0.5) <= self.chance_bound - 0.5


def score(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], seed: int = 0) -> Score:
    cols = [FEATURES.index(f) for f in features]
    xtr, ytr, xte, yte = balanced_halves(x[:, cols], y, np.random.default_rng(seed))
    accs = [float(np.mean(fit(xtr, ytr)(xte) == yte)) for fit in (best_threshold, logistic)]
    return Score(max(accs), len(yte))


# -- the tests ------------------------------------------------------------------------------
MARKETS = {  # name: (pool funding, personas, canary_commit_every)
    "pool": (True, True, EVERY),  # the flow of oracle.canary_flow
    "precommit": (True, True, 0),  # control: the precommit by job id before each post
    "single": (True, False, 0),  # control: the previous flow, one canary per key
    "old": (False, False, 0),  # control: the old funding transfers besides
}


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, (pool, personas, every) in MARKETS.items():
        doc = market_genesis(8, merge=True, drip={"max_drips_per_block": "16"})
        app = App(tmp_path_factory.mktemp(f"unlinkable-{name}"))
        app.init_chain(doc["chain_id"], doc["app_state"], 1_767_225_600 * 10**9, 1)
        try:
            m = simulate(app, pool, personas, seed=2026, commit_every=every)
            out[name] = worker_view(m)
        finally:
            app.close()
    return out


def report(name: str, s: Score) -> str:
    line = f"{name}: accuracy {s.accuracy:.3f} on {s.n_test} held-out jobs"
    line += f" (chance: {1 - s.chance_bound:.3f} to {s.chance_bound:.3f})"
    print(line)
    return line


def test_the_market_has_enough_of_both_to_judge(views: dict[str, Any]) -> None:
    for _x, y in views.values():
        assert y.sum() >= 150 and (~y).sum() >= 150, (y.sum(), (~y).sum())


def test_personas_post_as_many_jobs_each_as_real_posters_do(views: dict[str, Any]) -> None:
    """The canaries' poster histories spread like the real ones', not all at 0."""
    x, y = views["pool"]
    prior = x[:, FEATURES.index("prior_jobs")]
    for label in (True, False):
        shares = [float(np.mean(prior[y == label] == k)) for k in (0, 1, 2)]
        print(f"{'canaries' if label else 'real jobs'}: prior jobs 0, 1, 2: {shares}")
    assert float(np.mean(prior[y] >= 1)) > 0.25  # a canary is often a poster's second or third


def test_tracing_the_pool_funded_posters_coins_is_no_better_than_chance(
    views: dict[str, Any],
) -> None:
    x, y = views["pool"]
    s = score(x, y, FUNDING)
    assert s.at_chance, report("pool funding, funding features", s)
    report("pool funding, funding features", s)


def test_the_old_funding_transfer_gives_canaries_away(views: dict[str, Any]) -> None:
    """The same classifier on the same features catches the old path: the test can fail."""
    x, y = views["old"]
    s = score(x, y, FUNDING)
    report("old funding, funding features", s)
    assert s.accuracy >= 0.95


def test_everything_a_worker_sees_but_poster_history_is_no_better_than_chance(
    views: dict[str, Any],
) -> None:
    x, y = views["pool"]
    seen = tuple(f for f in FEATURES if f not in HISTORY)
    s = score(x, y, seen)
    assert s.at_chance, report("pool funding, all features but history", s)
    report("pool funding, all features but poster history", s)


def test_poster_history_is_no_better_than_chance(views: dict[str, Any]) -> None:
    x, y = views["pool"]
    s = score(x, y, HISTORY)
    assert s.at_chance, report("personas, poster history alone", s)
    report("personas, poster history alone", s)


def test_everything_a_worker_sees_with_poster_history_is_no_better_than_chance(
    views: dict[str, Any],
) -> None:
    x, y = views["pool"]
    s = score(x, y, FEATURES)
    assert s.at_chance, report("personas, all features with history", s)
    report("personas, all features with poster history", s)


def test_one_canary_per_key_gives_canaries_away_by_poster_history(
    views: dict[str, Any],
) -> None:
    """The same classifiers catch the previous flow (a key posts one canary, so a poster's
    second job is real): the tests above can fail."""
    x, y = views["single"]
    s = score(x, y, HISTORY)
    report("one canary per key, poster history alone", s)
    assert s.accuracy > s.chance_bound
    s = score(x, y, FEATURES)
    report("one canary per key, all features with poster history", s)
    assert s.accuracy > s.chance_bound


def test_the_commitments_on_their_schedule_are_no_better_than_chance(
    views: dict[str, Any],
) -> None:
    x, y = views["pool"]
    s = score(x, y, COMMITS)
    assert s.at_chance, report("personas, commitment timing alone", s)
    report("personas, commitment timing alone", s)


def test_the_precommit_before_each_post_gives_canaries_away(views: dict[str, Any]) -> None:
    """The same classifiers on the commitment timing catch the precommit by job id (the
    driver with ``canary_commit_every`` 0): the test above can fail."""
    x, y = views["precommit"]
    s = score(x, y, COMMITS)
    report("precommit by job id, commitment timing alone", s)
    assert s.accuracy > s.chance_bound
    s = score(x, y, FEATURES)
    report("precommit by job id, all features", s)
    assert s.accuracy > s.chance_bound
