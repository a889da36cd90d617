"""The devnet genesis: its models are the ones `python -m worker.models` builds, and
it is a genesis the chain accepts, with windows short enough for a devnet."""

from __future__ import annotations

from pathlib import Path

from app.app import App
from genesis.devnet import DEV_ACCOUNTS, DEVNET_MODEL_BUILDS, DEVNET_MODELS, dev_key, genesis_doc
from tests.support.chain import GENESIS_TIME_NS
from worker.models.__main__ import DEVNET_IDS, build
from worker.models.artifact import registry_entry


def test_registered_models_are_what_worker_models_builds(tmp_path: Path) -> None:
    """A torch or model-code change that moves a hash must update genesis/devnet.py,
    or every devnet job on that model fails with model_not_found."""
    for m in DEVNET_MODELS:
        name, seed = DEVNET_MODEL_BUILDS[m["id"]]
        assert DEVNET_IDS[name] == m["id"]
        art = build(name, tmp_path / "models", seed)
        entry = registry_entry(art, m["id"])
        for field in ("weights_sha256", "config_sha256", "task_types"):
            assert entry[field] == m[field], (m["id"], field)


def test_the_chain_accepts_the_devnet_genesis(tmp_path: Path) -> None:
    doc = genesis_doc()
    app = App(tmp_path / "state")
    try:
        app.init_chain(doc["chain_id"], doc["app_state"], GENESIS_TIME_NS, 1)
        models = app.custom_query("jobs", "models", {})["models"]
        assert sorted(m["id"] for m in models) == ["all-minilm-l6-v2", "tiny-lm"]
        verification = app.custom_query("verification", "params", {})
        jobs = app.custom_query("jobs", "params", {})
        # At 1 s blocks an unpicked result settles within seconds, a picked one
        # within a minute and a stuck claim is taken back within minutes.
        assert int(verification["challenge_window_blocks"]) <= 5
        assert int(verification["attest_window_blocks"]) <= 120
        assert int(jobs["default_result_blocks"]) <= 300
        for name in DEV_ACCOUNTS:
            bal = app.custom_query("bank", "balance", {"address": dev_key(name).bech32})
            assert int(bal["balance"]["amount"]) > 0
        assert app.check_invariants() == []
    finally:
        app.close()


def test_without_devnet_params_the_design_defaults_apply(tmp_path: Path) -> None:
    """scripts/bench/detection_sim.py measures detection at the design's params, not the
    devnet's: the protocol numbers of DESIGN.md, written out here in basis points."""
    doc = genesis_doc(devnet_params=False)
    app = App(tmp_path / "state")
    try:
        app.init_chain(doc["chain_id"], doc["app_state"], GENESIS_TIME_NS, 1)
        params = {
            m: app.custom_query(m, "params", {})
            for m in ("jobs", "verification", "slashing", "mint", "reputation", "staking")
        }
        assert len(app.custom_query("jobs", "models", {})["models"]) == 2
    finally:
        app.close()
    jobs, verification, slashing = params["jobs"], params["verification"], params["slashing"]
    assert jobs["burn_bps"] == 1000  # 10 % of what is consumed is burned
    assert jobs["payout_bps"] == 8000  # the worker's payout, DESIGN's example of 80 %
    assert verification["base_sample_bps"] == 1000  # 10 % of results re-executed
    assert verification["canary_rate_bps"] == 500  # 5 % canaries
    assert verification["similarity_threshold_bps"] == 9500  # similarity 0.95
    assert slashing["cheat_penalty_bps"] == 2000  # -20 of 100 reputation
    assert slashing["slash_below_bps"] == 5000  # reputation below 50 ...
    assert slashing["slash_fraction_bps"] == 1000  # ... slashes 10 % of the stake
    assert slashing["tombstone_below_bps"] == 3000  # below 30: a permanent ban
    # and none of the devnet's short windows and epochs
    devnet = genesis_doc()["app_state"]
    for module, got in params.items():
        for key, value in devnet.get(module, {}).get("params", {}).items():
            assert str(got[key]) != str(value), (module, key)
