"""Verification by simulation through the real modules: detection rate and overhead.

A benchmark harness, not part of the oracle: ``scripts/bench/verification.py``
prints its figures and ``tests/oracle/test_detection.py`` holds them to the
predictions below. It imports the oracle's own canary and attestation code.

An ``App`` in a temporary folder (real RocksDB, real modules, default params
unless overridden) is driven block by block with ``finalize_block`` +
``commit``, with signed txs from every actor:

* users post jobs; the oracle posts canaries from fresh pre-funded keys, one
  coin flip per user job (``oracle.canary.should_post``, the chain's
  ``canary_rate_bps``, all the oracle stake), and commits them before any
  claim;
* cheating workers each claim ``jobs_per_worker`` jobs dealt at random from
  the round's shuffled pool (user jobs and canaries alike: they cannot tell
  them apart) and submit a wrong output on each with probability ``cheat``;
  honest workers take the rest;
* the chain draws the sample from the next block's hash; the oracle attests
  every picked job (re-execution = recomputing the right output, signed with
  ed25519 through ``oracle.attest``) and reveals every canary one block later
  (so sampling and canaries act independently, as the formula assumes).

Rounds: post → claim (+ commit) → submit → draw → reveal + attest. Each
cheater does all its jobs in one round, so every one of its results is drawn
at the same risk (that of a fresh worker with no results yet: the newcomer
rate at the default params), which is what the formulas below assume.

The formulas (rates as fractions; ``s`` = the sampling rate the chain drew at,
``r`` = canary share of all jobs):

    per cheated job           p = s + r − s·r                 (sampled or a canary)
    caught within n jobs      P = 1 − (1 − f·p)^n             (cheats on a fraction f)
    overhead, first order     s·c + r                          (c = re-execution cost
                                                               relative to the job)
    overhead, full count      s·c + (1 + c_local)·r/(1 − r)   (r/(1−r) canaries per user
                                                               job, each run by a worker
                                                               and once by the oracle)
"""

from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from app.app import App
from chain.context import BlockInfo
from chain.crypto import PrivateKey
from chain.results import BlockResult
from chain.tx.sign import sign_tx
from genesis.devnet import genesis_doc
from modules.jobs import msgs as jm
from modules.jobs import receipt
from modules.staking.msgs import Coin, MsgBond
from oracle import attest, canary

CHAIN_ID = "vcoin-sim-1"
GENESIS_NS = 1_767_225_600 * 10**9
VCN = 10**18
MODEL = "sim-lm"
IMAGE = "sha256:" + "5a" * 32
PRICE = 2 * VCN
BATCH = 64  # msgs per tx (the ante limit)
GAS_PER_MSG = 400_000


def h32(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def right_output(job_id: int) -> bytes:
    return h32(f"output:{job_id}")


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    cheaters: int = 20
    jobs_per_worker: int = 100
    cheat_bps: int = 1000  # share of its jobs a cheater fakes
    cheaters_per_round: int = 10
    honest_workers: int = 2
    verification: dict[str, int] = field(default_factory=dict)  # param overrides


@dataclass
class SimResult:
    params: dict[str, Any]
    user_jobs: int = 0
    canaries: int = 0
    cheater_jobs: int = 0
    cheater_canaries: int = 0
    cheated: int = 0
    cheated_detected: int = 0
    by_canary: int = 0
    by_sampling: int = 0
    sampled: int = 0  # results drawn (non-canary results only count as re-executions)
    picked: int = 0
    re_executions: int = 0
    expected_detections: float = 0.0  # Σ p_i with each job's actual draw rate
    detection_variance: float = 0.0  # Σ p_i (1 − p_i)
    cheaters_caught: int = 0
    honest_penalised: int = 0  # fail verdicts on right outputs + honest workers slashed/jailed
    rates_seen: dict[int, int] = field(default_factory=dict)
    blocks: int = 0
    seconds: float = 0.0

    @property
    def detection_rate(self) -> float:
        return self.cheated_detected / self.cheated if self.cheated else 0.0


def predicted_p(sample_bps: int, canary_bps: int) -> float:
    s, r = sample_bps / 10_000, canary_bps / 10_000
    return s + r - s * r


def predicted_caught(p: float, cheat: float, n: int) -> float:
    return 1 - (1 - cheat * p) ** n


def predicted_overhead(
    sample_bps: int, canary_bps: int, c: float = 1.0, c_local: float = 1.0
) -> tuple[float, float]:
    """(first order, full count) — see the module doc."""
    s, r = sample_bps / 10_000, canary_bps / 10_000
    return s * c + r, s * c + (1 + c_local) * r / (1 - r)


class Sim:
    """The actors and the chain; ``run()`` does the rounds and counts."""

    def __init__(self, cfg: SimConfig, folder: Path) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.users = [self._key("user", i) for i in range(4)]
        self.oracle = self._key("oracle", 0)
        self.signer = SigningKey(h32(f"sim-ed25519-{cfg.seed}"))
        self.cheaters = [self._key("cheater", i) for i in range(cfg.cheaters)]
        self.honest = [self._key("honest", i) for i in range(cfg.honest_workers)]
        n_canary_keys = int(cfg.cheaters * cfg.jobs_per_worker * 0.2) + 50
        self.canary_keys = [self._key("canary", i) for i in range(n_canary_keys)]
        self.next_canary_key = 0
        self.app = App(folder / "state")
        self._genesis()
        self.seq: dict[bytes, int] = {}
        self.acct: dict[bytes, int] = {}
        self.time_ns = GENESIS_NS
        self.vparams = self.app.custom_query("verification", "params", {})
        self.result = SimResult(params=self.vparams)
        self.input_hash: dict[int, bytes] = {}

    def _key(self, role: str, i: int) -> PrivateKey:
        return PrivateKey.from_seed(f"sim-{self.cfg.seed}-{role}-{i}".encode())

    def _genesis(self) -> None:
        rich = {k.bech32: 10**30 for k in [*self.users, self.oracle]}
        workers = {k.bech32: 10**24 for k in [*self.cheaters, *self.honest]}
        posters = {k.bech32: 10 * PRICE for k in self.canary_keys}
        doc = genesis_doc(
            chain_id=CHAIN_ID,
            extra_balances={**rich, **workers, **posters},
            devnet_params=False,  # the design's defaults, not the devnet's short windows
        )
        st = doc["app_state"]
        st["jobs"] = {
            "models": [
                {
                    "id": MODEL,
                    "task_types": ["text-generation"],
                    "weights_sha256": h32("weights").hex(),
                    "config_sha256": h32("config").hex(),
                    "min_gpu_memory_mib": 0,
                    "registered_height": 0,
                    "description": "",
                }
            ],
            "params": {"max_concurrent_jobs": 1024},
        }
        if self.cfg.verification:
            st["verification"] = {"params": dict(self.cfg.verification)}
        self.app.init_chain(CHAIN_ID, st, GENESIS_NS, 1)

    # -- txs and blocks ---------------------------------------------------------------------
    def tx(self, key: PrivateKey, msgs: list[Any]) -> bytes:
        addr = key.address
        if addr not in self.acct:
            acc = self.app.custom_query("auth", "account", {"address": key.bech32})
            self.acct[addr], self.seq[addr] = int(acc["account_number"]), int(acc["sequence"])
        seq = self.seq[addr]
        self.seq[addr] = seq + 1
        return sign_tx(
            key,
            msgs,
            chain_id=CHAIN_ID,
            account_number=self.acct[addr],
            sequence=seq,
            gas_limit=GAS_PER_MSG * len(msgs) + 100_000,
        )

    def txs(self, key: PrivateKey, msgs: list[Any]) -> list[bytes]:
        return [self.tx(key, msgs[i : i + BATCH]) for i in range(0, len(msgs), BATCH)]

    def block(self, txs: list[bytes]) -> BlockResult:
        height = self.app.info().last_block_height + 1
        self.time_ns += 10**9
        h = hashlib.sha256(f"{self.cfg.seed}:{height}".encode())
        for t in txs:
            h.update(hashlib.sha256(t).digest())
        res = self.app.finalize_block(BlockInfo(CHAIN_ID, height, self.time_ns, h.digest()), txs)
        self.app.commit()
        self.result.blocks += 1
        for i, r in enumerate(res.tx_results):
            if r.code != 0:
                raise RuntimeError(
                    f"tx {i} at height {height} failed: {r.codespace}/{r.code} {r.log}"
                )
        return res

    @staticmethod
    def events(res: BlockResult, type_: str) -> list[dict[str, str]]:
        evs = [e for t in res.tx_results for e in t.events] + list(res.events)
        return [dict(e.attributes) for e in evs if e.type == type_]

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        bond = MsgBond(
            address=self.oracle.bech32,
            role="oracle",
            amount=Coin(denom="avcn", amount=str(10_000 * VCN)),
            ed25519_pubkey=bytes(self.signer.verify_key),
        )
        txs = [self.tx(self.oracle, [bond])]
        for w in [*self.cheaters, *self.honest]:
            reg = jm.MsgRegisterWorker(
                worker=w.bech32,
                gpu_model="",
                memory_mib=0,
                gpu_count=0,
                task_types=["text-generation"],
                models=[MODEL],
                price_floor="0",
                max_concurrent=1000,
            )
            b = MsgBond(
                address=w.bech32, role="worker", amount=Coin(denom="avcn", amount=str(1000 * VCN))
            )
            txs.append(self.tx(w, [reg, b]))
        self.block(txs)

    # -- one round -----------------------------------------------------------------------------
    def round(self, cheaters: list[PrivateKey]) -> None:
        cfg, r = self.cfg, self.result
        n_user = len(cheaters) * cfg.jobs_per_worker
        rate = int(self.vparams["canary_rate_bps"])
        posts: list[Any] = []
        canary_txs: list[bytes] = []
        for i in range(n_user):
            inline = f"prompt {self.rng.getrandbits(64):016x}".encode()
            posts.append(
                jm.MsgPostJob(
                    poster=self.users[i % len(self.users)].bech32,
                    task_type="text-generation",
                    model=MODEL,
                    inline_input=inline,
                    max_price=str(PRICE),
                )
            )
            if canary.should_post(rate, 10_000, self.rng):
                key = self.canary_keys[self.next_canary_key]
                self.next_canary_key += 1
                inline = f"prompt {self.rng.getrandbits(64):016x}".encode()
                msg = jm.MsgPostJob(
                    poster=key.bech32,
                    task_type="text-generation",
                    model=MODEL,
                    inline_input=inline,
                    max_price=str(PRICE),
                )
                canary_txs.append(self.tx(key, [msg]))
        txs: list[bytes] = []
        for u in self.users:
            txs += self.txs(u, [m for m in posts if m.poster == u.bech32])
        res = self.block(txs + canary_txs)
        posted = self.events(res, "JobPosted")
        canary_posters = {k.bech32 for k in self.canary_keys}
        user_ids = [int(e["job_id"]) for e in posted if e["poster"] not in canary_posters]
        canary_ids = [int(e["job_id"]) for e in posted if e["poster"] in canary_posters]
        by_bech32 = {k.bech32: k for k in self.canary_keys}
        poster_of = {
            int(e["job_id"]): by_bech32[e["poster"]] for e in posted if e["poster"] in by_bech32
        }
        for e in posted:
            self.input_hash[int(e["job_id"])] = bytes.fromhex(e["input_hash"])
        r.user_jobs += len(user_ids)
        r.canaries += len(canary_ids)
        canaries = set(canary_ids)

        # claim (and commit the canaries, in the same block: before any claim lands after it)
        salts = {j: self.rng.randbytes(32).hex() for j in canary_ids}
        commits = [
            canary.commit_msg(self.oracle.bech32, j, right_output(j).hex(), salts[j])
            for j in canary_ids
        ]
        pool = user_ids + canary_ids
        self.rng.shuffle(pool)
        n = cfg.jobs_per_worker
        deal = {w.address: pool[i * n : (i + 1) * n] for i, w in enumerate(cheaters)}
        rest = pool[len(cheaters) * n :]
        for i, j in enumerate(rest):
            deal.setdefault(self.honest[i % len(self.honest)].address, []).append(j)
        workers = {w.address: w for w in [*cheaters, *self.honest]}
        txs = self.txs(self.oracle, commits) if commits else []
        for addr, jobs in deal.items():
            w = workers[addr]
            txs += self.txs(w, [jm.MsgClaimJob(worker=w.bech32, job_id=j) for j in jobs])
        self.block(txs)

        # submit
        cheated: dict[int, bytes] = {}
        txs = []
        for addr, jobs in deal.items():
            w, is_cheater = workers[addr], addr in {c.address for c in cheaters}
            subs = []
            for j in jobs:
                out = right_output(j)
                if is_cheater:
                    r.cheater_jobs += 1
                    r.cheater_canaries += j in canaries
                    if self.rng.randrange(10_000) < cfg.cheat_bps:
                        out = h32(f"junk:{j}")
                        cheated[j] = addr
                subs.append(self.submit_msg(w, j, out))
            txs += self.txs(w, subs)
        self.block(txs)
        r.cheated += len(cheated)

        # the draw (end of this block)
        res = self.block([])
        drawn = {int(e["job_id"]): e for e in self.events(res, "ResultSampled")}
        r.sampled += len(drawn)
        for e in drawn.values():
            rb = int(e["rate_bps"])
            r.rates_seen[rb] = r.rates_seen.get(rb, 0) + 1
        picked = [j for j, e in drawn.items() if e["picked"] == "true"]
        r.picked += len(picked)

        # reveal every canary; attest every picked job that is not our own canary
        reveals = [
            canary.reveal_msg(  # signed by the canary's poster key, as the chain requires
                self.oracle.bech32, j, right_output(j).hex(), salts[j], poster_of[j], CHAIN_ID
            )
            for j in canary_ids
        ]
        attests = [self.attest_msg(j, cheated.get(j) is None) for j in picked if j not in canaries]
        r.re_executions += len(attests)
        res = self.block(self.txs(self.oracle, reveals + attests))
        revealed = {
            int(e["job_id"]): e["matched"] == "true" for e in self.events(res, "CanaryRevealed")
        }
        caught_workers: set[bytes] = set()
        for j, addr in cheated.items():
            is_canary = j in canaries
            drawn_rate = int(drawn[j]["rate_bps"]) / 10_000 if j in drawn else 0.0
            p = 1.0 if is_canary else drawn_rate
            r.expected_detections += p
            r.detection_variance += p * (1 - p)
            by_canary = is_canary and revealed.get(j) is False
            by_sampling = not is_canary and j in picked
            if by_canary or by_sampling:
                r.cheated_detected += 1
                caught_workers.add(addr)
            r.by_canary += by_canary
            r.by_sampling += by_sampling
        r.cheaters_caught += len(caught_workers)
        for e in self.events(res, "VerdictReached"):
            j = int(e["job_id"])
            if e["verdict"] == "fail" and j not in cheated:
                r.honest_penalised += 1

    def submit_msg(self, w: PrivateKey, job_id: int, out: bytes) -> Any:
        mh, ih = h32("weights"), self.input_hash[job_id]
        sig = receipt.sign(w, CHAIN_ID, job_id, IMAGE, mh, ih, out)
        return jm.MsgSubmitResult(
            worker=w.bech32,
            job_id=job_id,
            output_hash=out.hex(),
            artifact_ref="",
            compute_units=100,
            receipt=jm.ExecutionReceipt(
                image_digest=IMAGE,
                model_hash=mh.hex(),
                input_hash=ih.hex(),
                output_hash=out.hex(),
                signature=sig,
            ),
        )

    def attest_msg(self, job_id: int, right: bool) -> Any:
        verdict, sim = ("pass", 10_000) if right else ("fail", 0)
        evidence = h32(f"evidence:{job_id}:{verdict}")
        return attest.attest_msg(
            self.signer, self.oracle.bech32, CHAIN_ID, job_id, verdict, sim, evidence
        )

    def finish(self) -> None:
        """Let every unpicked result settle, then check the chain's invariants."""
        for _ in range(int(self.vparams["challenge_window_blocks"]) + 2):
            self.block([])
        broken = self.app.check_invariants()
        if broken:
            raise RuntimeError(f"invariants broken: {broken}")
        for w in self.honest:
            bond = self.app.custom_query("staking", "bond", {"address": w.bech32, "role": "worker"})
            if int(bond["bonded"]) != 1000 * VCN or int(bond["jailed_until"]) != 0:
                self.result.honest_penalised += 1

    def run(self) -> SimResult:
        t0 = time.monotonic()
        self.setup()
        k = self.cfg.cheaters_per_round
        for i in range(0, len(self.cheaters), k):
            self.round(self.cheaters[i : i + k])
        self.finish()
        self.result.seconds = time.monotonic() - t0
        return self.result


def simulate(cfg: SimConfig, folder: Path | None = None) -> SimResult:
    tmp = Path(tempfile.mkdtemp(prefix="vcoin-sim-")) if folder is None else folder
    sim = Sim(cfg, tmp)
    try:
        return sim.run()
    finally:
        sim.app.close()
        if folder is None:
            shutil.rmtree(tmp, ignore_errors=True)
