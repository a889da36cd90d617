"""The agent's parts on their own: config layering, claim policy, NVML capabilities,
the chain-job → job.json mapping, persisted state, tx waiting, and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chain.client import NodeClient
from chain.crypto import PrivateKey
from chain.keystore import key_from_mnemonic
from compute.jobspec import runtime_job, write_inline_input
from compute.runtime.errors import JobError
from genesis.devnet import dev_key
from tests.support.chain import msg_send
from tests.support.nodes import inproc_node
from worker.agent.chainio import TxOutcome, TxSender, TxWaiter, poll_outcome
from worker.agent.config import load_config, render_toml
from worker.agent.policy import ClaimPolicy, JobInfo, unregistered
from worker.agent.state import AgentState, HomeLocked
from worker.nvml import probe

ALICE = dev_key("alice")
WORKER_BIN = str(Path(sys.executable).with_name("vcoin-worker"))


# -- config ----------------------------------------------------------------------------------
def test_config_layers_defaults_file_env_flags(tmp_path: Path, monkeypatch: Any) -> None:
    for k in list(os.environ):
        if k.startswith("VCOIN_WORKER_"):
            monkeypatch.delenv(k)
    assert load_config(tmp_path).max_concurrent == 1
    (tmp_path / "config.toml").write_text(
        'max_concurrent = 3\nmodels = ["tiny-lm"]\nsandbox = "process"\njob_cpus = 2\n'
    )
    cfg = load_config(tmp_path)
    assert (cfg.max_concurrent, cfg.models, cfg.sandbox, cfg.job_cpus) == (
        3,
        ("tiny-lm",),
        "process",
        2.0,
    )
    monkeypatch.setenv("VCOIN_WORKER_MAX_CONCURRENT", "5")
    monkeypatch.setenv("VCOIN_WORKER_MODELS", "a, b")
    monkeypatch.setenv("VCOIN_WORKER_HEARTBEATS", "off")
    cfg = load_config(tmp_path)
    assert (cfg.max_concurrent, cfg.models, cfg.heartbeats) == (5, ("a", "b"), False)
    assert cfg.warm_pool
    monkeypatch.setenv("VCOIN_WORKER_WARM_POOL", "false")
    assert not load_config(tmp_path).warm_pool
    monkeypatch.delenv("VCOIN_WORKER_WARM_POOL")
    cfg = load_config(tmp_path, {"max_concurrent": 7, "models": None})
    assert (cfg.max_concurrent, cfg.models) == (7, ("a", "b"))
    # the rendered default file reads back as the defaults
    (tmp_path / "config.toml").write_text(render_toml())
    monkeypatch.delenv("VCOIN_WORKER_MAX_CONCURRENT")
    monkeypatch.delenv("VCOIN_WORKER_MODELS")
    assert load_config(tmp_path).models == () and load_config(tmp_path).max_concurrent == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("maxconcurrent = 2\n", "unknown settings"),
        ('sandbox = "vm"\n', "sandbox must be one of"),
        ("max_concurrent = 0\n", "max_concurrent must be at least 1"),
        ('node = "127.0.0.1:26657"\n', "must be a URL"),
        ('max_concurrent = "many"\n', "expected a whole number"),
    ],
)
def test_config_refuses_bad_settings_with_what_to_fix(
    tmp_path: Path, text: str, error: str
) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ValueError, match=error):
        load_config(tmp_path)


# -- policy ----------------------------------------------------------------------------------
POLICY = ClaimPolicy(
    address="vcoin1me",
    task_types=frozenset({"text-generation"}),
    models=frozenset({"tiny-lm", "big-lm"}),
    price_floor=100,
    max_concurrent=1,
    memory_mib=16_000,
    gpu_count=1,
    gpu_model="NVIDIA H100 80GB HBM3",
    model_memory=(("big-lm", 40_000), ("tiny-lm", 0)),
)


def job(**kw: Any) -> JobInfo:
    base: dict[str, Any] = {
        "id": 1,
        "task_type": "text-generation",
        "model": "tiny-lm",
        "max_price": 100,
        "poster": "vcoin1alice",
    }
    return JobInfo(**(base | kw))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({}, None),
        ({"model": "other-lm"}, "not served here"),
        ({"task_type": "embedding"}, "not run here"),
        ({"max_price": 99}, "under the floor"),
        ({"model": "big-lm"}, "needs 40000 MiB"),
        ({"min_gpu_memory_mib": 20_000}, "needs 20000 MiB"),
        ({"min_gpu_count": 2}, "needs 2 GPUs"),
        ({"gpu_model": "A100"}, "needs a A100 GPU"),
        ({"gpu_model": "h100"}, None),
        ({"poster": "vcoin1me"}, "this worker posted it"),
        ({"state": "claimed"}, "the job is claimed"),
    ],
)
def test_policy_says_why_it_skips_a_job(change: dict[str, Any], why: str | None) -> None:
    got = POLICY.refuse(job(**change))
    assert got is None if why is None else why in str(got)


@pytest.mark.parametrize(
    ("registered", "missing"),
    [
        (["lora-train", "text-generation"], ["lora-aggregate", "lora-shard"]),  # before training
        (["lora-aggregate", "lora-train"], ["lora-shard"]),
        (["lora-aggregate", "lora-shard", "lora-train"], []),
        (["embedding", "text-generation"], []),  # no lora-train: no training tasks
    ],
)
def test_a_registration_from_before_training_is_named(
    registered: list[str], missing: list[str]
) -> None:
    """A worker registered for lora-train before the chain had distributed training is
    offered no shard or aggregate; the daemon logs these names and says to re-register."""
    assert unregistered(registered) == missing


def test_job_info_reads_the_job_posted_event() -> None:
    info = JobInfo.from_event(
        {
            "job_id": "9",
            "poster": "vcoin1p",
            "task_type": "embedding",
            "model": "minilm",
            "max_price": "250avcn",
            "min_gpu_memory_mib": "0",
            "min_gpu_count": "1",
        }
    )
    assert (info.id, info.max_price, info.min_gpu_count, info.model) == (9, 250, 1, "minilm")


# -- NVML ------------------------------------------------------------------------------------
class FakeNvml:
    """Stands in for pynvml, the boundary to a GPU driver this machine may lack."""

    def __init__(self, gpus: list[tuple[str, int]], fail_init: Exception | None = None) -> None:
        self.gpus = gpus
        self.fail_init = fail_init
        self.shut = False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise self.fail_init

    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54.15"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return 12040

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> str:
        return self.gpus[h][0]

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(total=self.gpus[h][1] << 20)

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return f"GPU-{h}"


def test_nvml_reports_gpus_model_memory_count_and_driver() -> None:
    nv = FakeNvml([("NVIDIA H100 80GB HBM3", 81_559), ("NVIDIA H100 80GB HBM3", 81_000)])
    caps = probe(lambda: nv)
    assert (caps.gpu_model, caps.gpu_count, caps.memory_mib) == ("NVIDIA H100 80GB HBM3", 2, 81_000)
    assert (caps.driver, caps.cuda, caps.cpu_only) == ("550.54.15", "12.4", False)
    assert caps.device_ids == ["GPU-0", "GPU-1"] and nv.shut
    assert caps.summary().startswith("2 x NVIDIA H100")


def test_no_driver_or_no_gpu_is_cpu_only_and_says_why() -> None:
    class NVMLError(Exception):
        pass

    caps = probe(lambda: FakeNvml([], NVMLError("NVML Shared Library Not Found")))
    assert caps.cpu_only and (caps.gpu_count, caps.memory_mib, caps.gpu_model) == (0, 0, "")
    assert (
        caps.summary() == "CPU only: no NVIDIA driver answers NVML (NVML Shared Library Not Found)"
    )
    assert "lists no GPU" in probe(lambda: FakeNvml([])).note

    def missing() -> Any:
        raise ImportError("No module named 'pynvml'")

    assert "not installed" in probe(missing).note


# A stand-in ``pynvml`` for the ``vcoin-worker`` process: two GPUs of a known model, or
# a driver that does not load (FAKE_NVML_FAIL), whatever this machine has.
FAKE_PYNVML = """
import os
from types import SimpleNamespace

class NVMLError(Exception):
    pass

GPUS = [("NVIDIA H100 80GB HBM3", 81_559), ("NVIDIA H100 80GB HBM3", 81_000)]

def nvmlInit():
    if os.environ.get("FAKE_NVML_FAIL"):
        raise NVMLError(os.environ["FAKE_NVML_FAIL"])

def nvmlShutdown():
    pass

def nvmlSystemGetDriverVersion():
    return b"550.54.15"

def nvmlSystemGetCudaDriverVersion():
    return 12040

def nvmlDeviceGetCount():
    return len(GPUS)

def nvmlDeviceGetHandleByIndex(i):
    return i

def nvmlDeviceGetName(h):
    return GPUS[h][0]

def nvmlDeviceGetMemoryInfo(h):
    return SimpleNamespace(total=GPUS[h][1] << 20)

def nvmlDeviceGetUUID(h):
    return f"GPU-{h}"
"""


def fake_nvml_cli(
    tmp_path: Path, *args: str, fail: str = "", **run: Any
) -> subprocess.CompletedProcess[str]:
    """``vcoin-worker ARGS`` with the stand-in pynvml first on its path."""
    (tmp_path / "fakenvml").mkdir(exist_ok=True)
    (tmp_path / "fakenvml" / "pynvml.py").write_text(FAKE_PYNVML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VCOIN_", "PYTHONUNBUFFERED"))}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(tmp_path / "fakenvml"), os.environ.get("PYTHONPATH")])
    )
    env.update({"FAKE_NVML_FAIL": fail} if fail else {})
    env.update(run.pop("env", {}))
    if "stdout" not in run:
        run["capture_output"] = True
    return subprocess.run([WORKER_BIN, *args], text=True, timeout=120, env=env, **run)


def test_capabilities_command_reports_what_nvml_lists(tmp_path: Path) -> None:
    r = fake_nvml_cli(tmp_path, "capabilities", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "cpu_only": False,
        "gpu_model": "NVIDIA H100 80GB HBM3",
        "gpu_count": 2,
        "memory_mib": 81_000,  # the smaller of the two
        "driver": "550.54.15",
        "cuda": "12.4",
        "gpus": [
            {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_mib": 81_559, "uuid": "GPU-0"},
            {"index": 1, "name": "NVIDIA H100 80GB HBM3", "memory_mib": 81_000, "uuid": "GPU-1"},
        ],
        "note": "",
    }
    r = fake_nvml_cli(tmp_path, "capabilities")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 x NVIDIA H100 80GB HBM3, 81000 MiB each, driver 550.54.15, CUDA 12.4\n"


def test_capabilities_command_without_a_driver_is_cpu_only_and_says_why(tmp_path: Path) -> None:
    r = fake_nvml_cli(tmp_path, "capabilities", "-o", "json", fail="Driver Not Loaded")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["cpu_only"], out["gpu_count"], out["memory_mib"], out["gpus"]) == (True, 0, 0, [])
    assert out["note"] == "no NVIDIA driver answers NVML (Driver Not Loaded)"
    r = fake_nvml_cli(tmp_path, "capabilities", fail="Driver Not Loaded")
    assert r.stdout == "CPU only: no NVIDIA driver answers NVML (Driver Not Loaded)\n"


@pytest.mark.parametrize("command", [("capabilities",), ("--help",)])
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_output_into_a_closed_pipe_ends_quietly(
    tmp_path: Path, command: tuple[str, ...], unbuffered: bool
) -> None:
    """`vcoin-worker capabilities | head -0`: no traceback, no "error: Broken pipe", and
    SIGPIPE's status; buffered, the write fails only at the final flush."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = fake_nvml_cli(
            tmp_path,
            *command,
            env={"PYTHONUNBUFFERED": "1"} if unbuffered else {},
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    # argparse drops a help text it could not write (unbuffered, nothing is left to flush)
    help_dropped = unbuffered and command == ("--help",)
    assert r.returncode == (0 if help_dropped else 141), r.stderr
    assert r.stderr == "", r.stderr


# -- chain job -> job.json ------------------------------------------------------------------
def chain_job(spec: str = "", inline: bytes = b'{"prompts": ["hi"]}') -> dict[str, Any]:
    return {
        "id": "12",
        "task_type": "text-generation",
        "model": "tiny-lm",
        "input_hash": hashlib.sha256(inline).hexdigest(),
        "inline_input": base64.b64encode(inline).decode(),
        "spec": spec,
    }


MODEL = {"id": "tiny-lm", "weights_sha256": "ab" * 32}


def test_runtime_job_maps_the_chain_record(tmp_path: Path) -> None:
    j = chain_job(json.dumps({"params": {"max_new_tokens": 3}}))
    doc = runtime_job(j, MODEL)
    assert doc["task"] == "text-generation" and doc["model"] == "ab" * 32
    assert doc["input"] == {"sha256": j["input_hash"]} and doc["job_id"] == "12"
    assert doc["params"] == {"max_new_tokens": 3}  # the runtime fills in the defaults
    path = write_inline_input(j, tmp_path)
    assert path is not None and path.name == j["input_hash"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == j["input_hash"]
    assert runtime_job(chain_job(""), MODEL)["params"] == {}


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("[1]", "must be a JSON object"),
        ('{"steps": 3}', "unknown keys"),
        ('{"params": []}', "spec.params must be a JSON object"),
        ('{"params": {"max_new_tokens": "lots"}}', "must be an integer"),
        ('{"params": {"temperature": 0.7}}', "not known for text-generation"),
    ],
)
def test_a_malformed_spec_is_a_bad_job_spec(spec: str, error: str) -> None:
    with pytest.raises(JobError, match=error) as e:
        runtime_job(chain_job(spec), MODEL)
    assert e.value.code == "bad_job_spec"


# -- state ------------------------------------------------------------------------------------
def test_state_survives_a_restart_and_locks_its_home(tmp_path: Path) -> None:
    st = AgentState(tmp_path)
    st.lock_home()
    st.handled(41)
    st.handled(40)  # never goes back
    st.set_job(7, phase="running", result_deadline=99)
    st.set_heartbeat_slot(8)
    with pytest.raises(HomeLocked, match="already runs"):
        AgentState(tmp_path).lock_home()
    again = AgentState(tmp_path)
    assert (again.last_height, again.heartbeat_slot) == (41, 8)
    assert again.jobs == {7: {"phase": "running", "result_deadline": 99}}
    st.drop_job(7)
    assert AgentState(tmp_path).jobs == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.lock", "state.json"]
    st.unlock_home()
    AgentState(tmp_path).lock_home()


def test_torn_state_file_is_refused_with_advice(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"last_height": 4')
    with pytest.raises(ValueError, match="move it away"):
        AgentState(tmp_path)


# -- tx waiter --------------------------------------------------------------------------------
def outcome(h: str) -> TxOutcome:
    return TxOutcome(h, 5, 0, "", "", [])


def test_waiter_gets_outcomes_from_the_stream_or_by_polling() -> None:
    polled: list[str] = []

    def poll(h: str) -> TxOutcome | None:
        polled.append(h)
        return outcome(h) if h == "POLLED" else None

    w = TxWaiter(poll)
    # resolved before the waiter asks: kept, since it was expected
    w.expect("EARLY")
    w.resolve(outcome("EARLY"))
    assert w.wait("EARLY", timeout=1) == outcome("EARLY") and polled == []
    # resolved by the stream while waiting
    # (woken by it: not polled, and long before the minute of grace and timeout is out)
    threading.Timer(0.1, lambda: w.resolve(outcome("LIVE"))).start()
    t0 = time.monotonic()
    assert w.wait("LIVE", timeout=60, stream_grace=60) == outcome("LIVE")
    assert time.monotonic() - t0 < 30 and polled == []
    # nothing on the stream: polled after the grace
    assert w.wait("POLLED", timeout=5, stream_grace=0.1) == outcome("POLLED")
    assert w.wait("NEVER", timeout=0.6, stream_grace=0.1) is None
    w.resolve(outcome("UNEXPECTED"))  # nobody waits: dropped, not kept forever
    assert "UNEXPECTED" not in w._done


# -- tx sender, against a real node -------------------------------------------------------
@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with inproc_node(tmp_path_factory.mktemp("sender")) as n:
        yield f"http://{n.cfg.rpc_laddr}"


def test_tx_sender_counts_sequences_and_resends_a_tx_that_ran_out_of_gas(node_url: str) -> None:
    sender_key = PrivateKey.from_seed(b"client-ws-sender")
    with NodeClient(node_url) as c:
        c.send_tx(ALICE, [msg_send(ALICE, sender_key, 10**18)])
        waiter = TxWaiter(lambda h: poll_outcome(c, h))
        s = TxSender(node_url, sender_key, waiter)
        to = PrivateKey.from_seed(b"client-ws-to")
        # back to back, no waiting: the sender's own count keeps the sequences apart
        first = s.send([msg_send(sender_key, to, 1)], "transfer")
        # a limit far too low: CheckTx runs out of gas, the sender measures and resends
        second = s.send([msg_send(sender_key, to, 2)], "transfer", gas=1_000)
        assert second.sequence == first.sequence + 1
        for sent in (first, second):
            out = waiter.wait(sent.hash, timeout=10, stream_grace=0)
            assert out is not None and out.ok, out
        assert c.balance(to.bech32) == 3
        s.close()


# -- CLI --------------------------------------------------------------------------------------
def worker_cli(
    home: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
    env["VCOIN_WORKER_HOME"] = str(home)
    return subprocess.run(
        [WORKER_BIN, *args], env=env, capture_output=True, text=True, input=stdin, timeout=60
    )


def test_help_explains_the_commands(tmp_path: Path) -> None:
    r = worker_cli(tmp_path, "--help")
    assert r.returncode == 0
    for word in ("init", "register", "stake", "start", "status", "SIGTERM", "VCOIN_WORKER_"):
        assert word in r.stdout
    r = worker_cli(tmp_path, "start", "--help")
    assert "shutdown_grace_s" in r.stdout and "--sandbox" in r.stdout


def test_init_makes_config_and_an_encrypted_key(tmp_path: Path) -> None:
    home = tmp_path / "w"
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery\n")
    r = worker_cli(home, "init", "--passphrase-file", str(pw), "--max-concurrent", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    words = lines[lines.index(next(x for x in lines if x.startswith("Mnemonic"))) + 1]
    assert load_config(home).max_concurrent == 2
    key_file = json.loads((home / "keys" / "worker.json").read_text())
    assert len(words.split()) == 24 and key_from_mnemonic(words).bech32 == key_file["address"]
    assert key_file["backend"] == "file" and "secret" not in key_file
    assert (home / "keys" / "worker.json").stat().st_mode & 0o077 == 0
    again = worker_cli(home, "init", "--passphrase-file", str(pw))
    assert again.returncode == 1 and "--overwrite" in again.stderr


def test_start_without_a_key_or_node_says_what_to_do(tmp_path: Path) -> None:
    r = worker_cli(tmp_path / "none", "start")
    assert r.returncode == 1 and "vcoin-worker init" in r.stderr
    home = tmp_path / "w"
    assert worker_cli(home, "init", "--dev-key", "worker3").returncode == 0
    r = worker_cli(home, "start", "--node", "http://127.0.0.1:1", "--metrics-laddr", "")
    assert r.returncode == 1 and "cannot reach the node" in r.stderr
