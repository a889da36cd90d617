"""The oracle's settings come through ``chain.settings`` like the node's and the worker's:
defaults < <home>/config.toml < VCOIN_ORACLE_* env < flags, unknown keys refused with
the known ones named, values checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.config import ConfigError, OracleConfig

ORACLE_BIN = str(Path(sys.executable).with_name("vcoin-oracle"))


@pytest.fixture(autouse=True)
def no_oracle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("VCOIN_ORACLE_"):
            monkeypatch.delenv(var)


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)
    return home


def test_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = write(tmp_path / "o", 'rpc = "http://file:26657"\ncanaries = true\n')
    monkeypatch.setenv("VCOIN_ORACLE_RPC", "http://env:26657")
    monkeypatch.setenv("VCOIN_ORACLE_CANARIES", "false")
    monkeypatch.setenv("VCOIN_ORACLE_CANARY_TASK_TYPES", "embedding, lora-train")
    monkeypatch.setenv("VCOIN_ORACLE_MAX_CHECK_ATTEMPTS", "9")
    cfg = OracleConfig.load(home)
    assert cfg.rpc == "http://env:26657"
    assert cfg.canaries is False
    assert cfg.canary_task_types == ("embedding", "lora-train")
    assert cfg.max_check_attempts == 9


def test_planting_is_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plant worker bonds the oracle's own coins: off unless the operator turns it on."""
    assert OracleConfig.load(write(tmp_path / "a", "")).plant is False
    assert OracleConfig.load(write(tmp_path / "b", "plant = true\n")).plant is True
    monkeypatch.setenv("VCOIN_ORACLE_PLANT", "true")
    assert OracleConfig.load(write(tmp_path / "c", "")).plant is True


def test_precedence_defaults_file_env_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "o"
    assert OracleConfig.load(home).poll_s == 2.0  # the default
    write(home, "poll_s = 3\nshutdown_grace_s = 7\n")
    assert OracleConfig.load(home).poll_s == 3.0  # the file over the default
    monkeypatch.setenv("VCOIN_ORACLE_POLL_S", "4")
    assert OracleConfig.load(home).poll_s == 4.0  # env over the file
    cfg = OracleConfig.load(home, {"poll_s": 5, "metrics": None})
    assert cfg.poll_s == 5.0  # a flag over env
    assert cfg.shutdown_grace_s == 7.0 and cfg.metrics == "127.0.0.1:9464"  # None: no flag


def test_unknown_keys_are_refused_naming_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write(tmp_path / "o", "poll_s = 1\npolls = 2\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'polls'.*known ones.*poll_s"):
        OracleConfig.load(home)
    (home / "config.toml").unlink()
    with pytest.raises(ConfigError, match=r"'bogus'.*known ones.*shutdown_grace_s"):
        OracleConfig.load(home, {"bogus": 1})
    with pytest.raises(ConfigError, match=r"'bogus'.*known ones"):
        OracleConfig().with_(bogus=1)
    monkeypatch.setenv("VCOIN_ORACLE_GRACE", "3")
    with pytest.raises(ConfigError, match=r"VCOIN_ORACLE_GRACE.*known ones.*shutdown_grace_s"):
        OracleConfig.load(home)


@pytest.mark.parametrize(
    ("layer", "key", "value", "words"),
    [
        ("file", "sandbox", '"vm"', "sandbox must be one of"),
        ("file", "poll_s", "-1", "poll_s must be a positive"),
        ("file", "poll_s", '"soon"', "poll_s: expected a number"),
        ("file", "max_check_attempts", "0", "max_check_attempts must be at least 1"),
        ("env", "metrics", "nowhere", "metrics must look like"),
        ("env", "canaries", "perhaps", "canaries: expected true or false"),
        ("env", "run_timeout_s", "nan", "run_timeout_s must be a positive"),
        ("flag", "rpc", "localhost:26657", "rpc must be a URL"),
        ("flag", "device", "tpu", "device must be one of"),
        ("flag", "gas_price", -1, "gas_price must be ≥ 0"),
        ("file", "canary_commit_every", "-1", "canary_commit_every must be ≥ 0"),
    ],
)
def test_bad_values_are_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    layer: str,
    key: str,
    value: object,
    words: str,
) -> None:
    home = tmp_path / "o"
    overrides = {}
    if layer == "file":
        write(home, f"{key} = {value}\n")
    elif layer == "env":
        monkeypatch.setenv(f"VCOIN_ORACLE_{key.upper()}", str(value))
    else:
        overrides[key] = value
    with pytest.raises(ConfigError, match=words):
        OracleConfig.load(home, overrides)


def test_init_writes_toml_that_loads_back_and_an_old_config_json_still_reads(
    tmp_path: Path,
) -> None:
    cfg = OracleConfig(home=str(tmp_path / "new")).with_(shutdown_grace_s=10.0, canaries=False)
    assert cfg.save().name == "config.toml"
    assert OracleConfig.load(tmp_path / "new") == cfg
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"poll_s": 0.5, "canary_task_types": ["x"]}))
    got = OracleConfig.load(old)
    assert (got.poll_s, got.canary_task_types) == (0.5, ("x",))
    (old / "config.json").write_text(json.dumps({"poll_s": 0.5, "typo": 1}))
    with pytest.raises(ConfigError, match=r"config.json: unknown setting 'typo'"):
        OracleConfig.load(old)


def test_the_cli_explains_the_settings_and_refuses_a_bad_one(tmp_path: Path) -> None:
    r = subprocess.run([ORACLE_BIN, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for words in ("config.toml", "VCOIN_ORACLE_POLL_S", "shutdown_grace_s", "--no-canaries"):
        assert words in r.stdout, words
    write(tmp_path / "o", "poll_s = 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_ORACLE_")}
    r = subprocess.run(
        [ORACLE_BIN, "--home", str(tmp_path / "o"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 2 and "poll_s must be a positive" in r.stderr, r.stderr
    r = subprocess.run(
        [ORACLE_BIN, "--home", str(tmp_path / "o"), "start", "--device", "tpu"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 2 and "--device" in r.stderr  # argparse's own choices


@pytest.mark.parametrize("every", [0, 1, 20])
def test_canary_commit_every_takes_0_to_turn_the_schedule_off_and_any_period(
    tmp_path: Path, every: int
) -> None:
    home = tmp_path / "o"
    write(home, f"canary_commit_every = {every}\n")
    assert OracleConfig.load(home).canary_commit_every == every
    assert OracleConfig().canary_commit_every == 20  # the default: on the schedule
