"""The oracle daemon plants by itself (``oracle.plant``), against a node in this process.

Three oracles of equal stake check every result: the planter (a real daemon with
``plant`` on), an honest daemon and a lazy one that copies the worker's hash
(``test_lazy_oracle``). Nobody else works: the planter's own worker account takes
every job posted. With the chain's ``plant_rate_bps`` at 50 % and a seeded coin, the
jobs it plants are exactly the coin's draws after its seasoning; each plant is
rejected by the honest majority, revealed after the verdict, and the lazy oracle is
caught by the first one while the honest one is untouched.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from chain.crypto import PrivateKey
from oracle.daemon import Oracle
from oracle.plant import Planter
from tests.oracle._node import ORACLE1, ORACLE2, POSTER, Net, bond_oracle, market_node, post_job
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import make_oracle
from tests.oracle.test_lazy_oracle import attested, cheating_punished, lazy_oracle, reputation
from tests.support.chain import test_key

RATE = 5_000
PARAMS = {
    "base_sample_bps": 10_000,
    "max_sample_bps": 10_000,
    "attest_window_blocks": 15,
    "plant_rate_bps": RATE,
}
PLANTER, HONEST, LAZY = test_key(5), ORACLE2, ORACLE1  # lazy_oracle() runs ORACLE1
SEED, SEASON, ROTATE, JOBS = 2, 1, 2, 6


def planter_oracle(net: Net, home: Path, key: PrivateKey, seed: int, **cfg: Any) -> Oracle:
    """A daemon with planting on, its plant coin seeded; the key bonded as an oracle."""
    signer = SigningKey.generate()
    bond_oracle(net, key, bytes(signer.verify_key))
    oracle = make_oracle(net, home, key, signer, cheap_checks=True, plant=True, **cfg)
    assert oracle.planter is not None
    oracle.planter = Planter(replace(oracle.plant_deps(), rng=random.Random(seed)), home)
    return oracle


def expected_plants(seed: int, jobs: int) -> list[bool]:
    """Which of ``jobs`` successive jobs the planter plants: none while its key is
    seasoning, then a coin of P = RATE/10000 each, a fresh key after ROTATE plants."""
    coin, honest, plants, out = random.Random(seed), 0, 0, []
    for _ in range(jobs):
        if honest < SEASON:
            out.append(False)
            honest += 1
            continue
        planted = coin.randrange(10_000) < RATE
        out.append(planted)
        plants += planted
        honest += not planted
        if plants >= ROTATE:
            honest = plants = 0
    return out


def sample(oracle: Oracle, name: str, **labels: str) -> float:
    return float(oracle.metrics.registry.get_sample_value(name, labels) or 0.0)


def plant_revealed(net: Net, job_id: int) -> list[dict[str, str]]:
    res = net.client.tx_search(f"PlantRevealed.job_id='{job_id}'", per_page=100)
    out = []
    for t in res.get("txs") or []:
        for e in t["tx_result"].get("events") or []:
            if e["type"] in ("PlantRevealed", "PlantPassed"):
                out.append({"type": e["type"], **{a["key"]: a["value"] for a in e["attributes"]}})
    return out


def test_the_daemon_plants_at_the_odds_and_catches_the_lazy_oracle_only(
    tmp_path: Path, models: Models
) -> None:
    want = expected_plants(SEED, JOBS)
    assert want == [False, True, True, False, True, False]  # seasoning, plants, rotation
    with market_node(tmp_path / "node", models, **PARAMS) as net:
        planter = planter_oracle(
            net,
            tmp_path / "planter",
            PLANTER,
            SEED,
            plant_season_jobs=SEASON,
            plant_rotate_after=ROTATE,
            plant_wait_blocks=2,
        )
        honest_key, lazy_key = SigningKey.generate(), SigningKey.generate()
        bond_oracle(net, HONEST, bytes(honest_key.verify_key))
        bond_oracle(net, LAZY, bytes(lazy_key.verify_key))
        honest = make_oracle(net, tmp_path / "honest", HONEST, honest_key, cheap_checks=True)
        lazy, lazy_runner = lazy_oracle(net, tmp_path / "lazy", lazy_key)
        daemons = (lazy, planter, honest)  # the lazy one first: it attests before a quorum
        for d in daemons:
            d.open()

        def step() -> None:
            for d in daemons:
                d.step()

        p = planter.planter
        assert p is not None
        jobs = []
        for n in range(JOBS):
            job = post_job(net, POSTER, {"prompts": [f"Job number {n} for the market"]})
            jobs.append(job)

            def done(job: int = job) -> bool:
                return job in p.jobs and p.jobs[job].stage == "done"

            net.wait_for(done, timeout=60, step=step)
            assert not p.jobs[job].outcome.startswith(("failed", "not", "missed")), p.jobs[job]

        # the daemon planted at the odds: exactly the seeded coin's draws after seasoning
        assert [p.jobs[j].planted for j in jobs] == want
        planted = [j for j, w in zip(jobs, want, strict=True) if w]
        # every job was claimed and submitted by the planter's own worker keys, two of them
        workers = {net.job(j)["worker"] for j in jobs}
        assert workers == {k.address for k in p.keys.values()} and len(p.keys) == 2
        assert [k.stage for k in sorted(p.keys.values(), key=lambda k: k.key_id)] == [
            "unbonded",
            "bonded",
        ]
        # it took each job only once it had waited plant_wait_blocks unclaimed
        for j in jobs:
            job = net.job(j)
            assert int(job["claimed_height"]) - int(job["posted_height"]) >= 2, job
        # honest jobs settled; plants were rejected by the honest majority and revealed
        for j, w in zip(jobs, want, strict=True):
            assert net.job(j)["state"] == ("rejected" if w else "settled")
        for j in planted:
            assert attested(net, HONEST, j) == "fail"
            assert attested(net, PLANTER, j) == "fail"  # the planter checks its plant too
            revealed = plant_revealed(net, j)
            assert [e["type"] for e in revealed if e["type"] == "PlantRevealed"] == [
                "PlantRevealed"
            ]
        # the lazy oracle passed every plant it attested, the first one included, and each
        # caught it (punished and jailed; once its jail term ends it attests again)
        passed = [j for j in planted if attested(net, LAZY, j) == "pass"]
        assert passed[0] == planted[0]
        for j in planted:
            caught = [e["oracle"] for e in plant_revealed(net, j) if e["type"] == "PlantPassed"]
            assert caught == ([LAZY.bech32] if j in passed else [])
            assert p.jobs[j].caught == (1 if j in passed else 0)
        assert len(cheating_punished(net, LAZY.bech32)) == len(passed)
        assert int(reputation(net, LAZY)["penalties_bps"]) >= 2_000 * len(passed)  # + outvotes
        assert lazy_runner.jobs == []
        # the honest oracle failed every plant and is untouched
        assert cheating_punished(net, HONEST.bech32) == []
        assert int(reputation(net, HONEST)["penalties_bps"]) == 0
        # the planter's metrics
        assert sample(planter, "vcoin_oracle_plants_total", event="made") == 3.0
        assert sample(planter, "vcoin_oracle_plants_total", event="revealed") == 3.0
        assert sample(planter, "vcoin_oracle_plant_oracles_caught_total") == len(passed)
        assert sample(honest, "vcoin_oracle_plants_total", event="made") == 0.0


def test_a_plants_output_is_well_formed_and_wrong_everywhere_a_check_looks(
    run_job: Any, models: Models
) -> None:
    import json

    import numpy as np
    from safetensors.numpy import load

    from oracle.plant import wrong_output

    # text: every completion's text changed, so it no longer decodes from its token ids
    right = run_job("text-generation", models.lm, {"prompts": ["One", "Two"]}).read_bytes()
    wrong = json.loads(wrong_output("text-generation", right))
    before = json.loads(right)
    assert [c["token_ids"] for c in wrong["completions"]] == [
        c["token_ids"] for c in before["completions"]
    ]
    for w, r in zip(wrong["completions"], before["completions"], strict=True):
        assert w["completion"] != r["completion"] and w["prompt"] == r["prompt"]
    # embeddings: the same shape, metadata and finite values, every row pointing away
    right = run_job("embedding", models.minilm, {"texts": ["a", "b", "c"]}).read_bytes()
    out = wrong_output("embedding", right)
    r, w = load(right)["embeddings"], load(out)["embeddings"]
    assert w.shape == r.shape and w.dtype == r.dtype and np.isfinite(w).all()
    cos = (r * w).sum(axis=1) / (np.linalg.norm(r, axis=1) * np.linalg.norm(w, axis=1))
    assert (cos < -0.99).all()
    meta = json.loads(out[8 : 8 + int.from_bytes(out[:8], "little")])["__metadata__"]
    assert meta == json.loads(right[8 : 8 + int.from_bytes(right[:8], "little")])["__metadata__"]


def test_no_plant_worker_while_the_chain_asks_for_no_plants(tmp_path: Path, models: Models) -> None:
    with market_node(tmp_path / "node", models, **{**PARAMS, "plant_rate_bps": 0}) as net:
        oracle = planter_oracle(net, tmp_path / "planter", PLANTER, SEED, plant_wait_blocks=2)
        oracle.open()
        before = net.client.balance(PLANTER.bech32)
        job = post_job(net, POSTER, {"prompts": ["Leave me queued"]})
        posted = int(net.job(job)["posted_height"])
        net.wait_for(lambda: net.client.latest_height() > posted + 10, step=oracle.step)
        p = oracle.planter
        assert p is not None and p.keys == {} and p.jobs == {}  # no key made, nothing taken
        assert net.job(job)["state"] == "queued"
        assert net.client.balance(PLANTER.bech32) == before  # no coin sent anywhere


def test_a_plant_worker_asks_the_markets_median_price(tmp_path: Path, models: Models) -> None:
    """A plant worker registered with a floor of 0 would settle its jobs at the chain's
    min price with nothing paid: a tell, and an undercut of every honest worker."""
    from modules.jobs import msgs as jm
    from oracle.plant import market_floor

    with market_node(tmp_path / "node", models, **PARAMS) as net:
        assert market_floor(net.client) == 0  # no worker yet
        for i, floor in zip((6, 7, 8), (9, 2, 5), strict=True):
            k = test_key(i)
            reg = jm.MsgRegisterWorker(
                worker=k.bech32,
                gpu_model="",
                memory_mib=0,
                gpu_count=0,
                task_types=["text-generation"],
                models=["tiny-lm"],
                price_floor=str(floor * 10**18),
                max_concurrent=1,
            )
            net.client.send_tx(k, [reg], gas="auto")
        assert market_floor(net.client) == 5 * 10**18
