"""The oracle daemon checks LoRA jobs with checkpoints by replaying the interval drawn
from the draw block's hash, in process (no re-execution), against a real node: an honest
result passes and settles, a stale adapter (no training, checkpoints copied forward, a
chain that holds together) fails and is rejected."""

from __future__ import annotations

import json
from pathlib import Path

from nacl.signing import SigningKey

from compute.runtime import checkpoints as ck
from compute.runtime.hashing import canonical_json, save_safetensors
from compute.runtime.spec import check_params
from oracle.interval import REPLAY, replay_interval
from tests.oracle._node import ORACLE1, POSTER, market_node, post_job
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import ALWAYS, CountingRunner, make_oracle, setup_market

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "birds sing at dawn"]
RAW = {"steps": 6, "checkpoint_every": 2, "batch_size": 2, "learning_rate": 0.01}


def _stale(honest: Path, model_hash: str) -> Path:
    """The fresh adapter delivered as trained: every checkpoint the first, the chain and a
    flat loss log recomputed so that it all holds together."""
    from safetensors import safe_open

    with safe_open(str(honest), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    params = check_params("lora-train", RAW)
    first = {p: ck.checkpoint(tensors, 0, p) for p in ck.PARTS}
    saved = [first] * len(ck.boundaries(params["steps"], params["checkpoint_every"]))
    losses = [5.0] * params["steps"]
    out = dict(first["w"])
    for i, c in enumerate(saved):
        out.update(ck.flatten(c, i))
    doc = canonical_json(ck.manifest(model_hash, params, saved, losses)).decode()
    path = honest.with_name("stale.safetensors")
    save_safetensors(out, path, {"train_losses": json.dumps(losses), ck.META_KEY: doc})
    return path


def test_the_daemon_replays_the_drawn_interval_and_catches_a_stale_adapter(
    tmp_path: Path, models: Models
) -> None:
    signer = SigningKey.generate()
    with market_node(tmp_path / "node", models, **ALWAYS) as net:
        worker = setup_market(net, models, tmp_path / "work", signer, oracles=1)
        runner = CountingRunner()
        oracle = make_oracle(net, tmp_path / "oracle", ORACLE1, signer, runner, cheap_checks=True)
        oracle.open()
        draws: dict[int, str] = {}
        check = oracle.executor.check

        def spy(job, model_hash, policy):  # type: ignore[no-untyped-def]
            draws[int(job["id"])] = job.get("draw_block_hash", "")
            return check(job, model_hash, policy)

        oracle.executor.check = spy  # type: ignore[method-assign]
        spec = json.dumps({"params": RAW})
        inline = {"texts": TEXTS, "eval_texts": TEXTS[:1]}
        good = post_job(net, POSTER, inline, task="lora-train", spec=spec)
        bad = post_job(net, POSTER, inline, task="lora-train", spec=spec)
        worker.work_on(good)
        worker.claim(bad)
        honest = worker.output(net.job(bad), honest=True)
        worker.submit(bad, _stale(honest, models.lm))

        def decided() -> bool:
            return net.job(good)["state"] == "settled" and net.job(bad)["state"] == "rejected"

        net.wait_for(decided, timeout=180, step=oracle.step)
        events = {int(e["job_id"]): e for e in net.attested_events(ORACLE1.bech32)}
        assert (events[good]["verdict"], events[good]["similarity_bps"]) == ("pass", "10000")
        assert events[bad]["verdict"] == "fail"
        assert runner.jobs == []  # replayed in process: no full re-execution
        evidence = [json.loads(p.read_bytes()) for p in (tmp_path / "oracle/evidence").iterdir()]
        replays = {int(e["job_id"]): e for e in evidence if REPLAY in json.dumps(e, sort_keys=True)}
        assert sorted(replays) == sorted([good, bad]), evidence
        text = json.dumps(replays[good], sort_keys=True)
        # the daemon handed over the draw block's hash; the interval is its function
        assert len(draws[good]) == 64 and len(draws[bad]) == 64
        drawn = replay_interval(bytes.fromhex(draws[good]), good, 3)
        assert f'"interval": {drawn}' in text
