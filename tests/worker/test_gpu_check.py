"""``scripts/gpu-check`` (``worker/gpu_check.py``) on a machine without a GPU: its
arguments, its report when NVML finds no driver, and its exit status (0 when both jobs
ran on the device it chose, CUDA wherever NVML lists a GPU; 1 otherwise; 2 for bad
arguments). NVML is stood in for, so the report is the same on a machine with a GPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from worker import gpu_check
from worker.nvml import Capabilities, Gpu

ROOT = Path(__file__).resolve().parents[2]

# NVML as a machine without an NVIDIA driver answers it
NO_DRIVER_PYNVML = """
class NVMLError(Exception):
    pass

def nvmlInit():
    raise NVMLError("Driver Not Loaded")
"""


def test_help_names_the_flag_and_bad_arguments_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as e:
        gpu_check.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gpu-check [-h] [--json]")
    assert "is this machine ready to run GPU jobs?" in out and "--json" in out
    with pytest.raises(SystemExit) as e:
        gpu_check.main(["--gpu", "0"])
    assert e.value.code == 2
    assert "unrecognized arguments: --gpu 0" in capsys.readouterr().err


@pytest.mark.slow
def test_without_a_driver_it_says_so_and_runs_both_jobs_on_cpu(tmp_path: Path) -> None:
    """The script as ``scripts/gpu-check --json`` runs it, NVML answering "no driver"."""
    (tmp_path / "pynvml.py").write_text(NO_DRIVER_PYNVML)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    r = subprocess.run(
        [sys.executable, "-m", "worker.gpu_check", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[:4] == [
        "== vcoin gpu-check ==",
        "GPUs: none. no NVIDIA driver answers NVML (Driver Not Loaded).",
        "This machine has no usable NVIDIA GPU: the checks below run on CPU instead,",
        "to show that the job path works. They say nothing about GPU readiness.",
    ]
    assert "Running on CPU directly (no sandbox)." in lines
    for label in ("inference", "lora step"):
        assert any(ln.startswith(f"  {label}: ok on cpu, wall ") for ln in lines), r.stdout
    hashes = [ln.split()[-1] for ln in lines if ln.startswith("    output hash ")]
    assert len(hashes) == 2 and all(re.fullmatch("[0-9a-f]{64}", h) for h in hashes)
    assert lines[-1] == "Result: NO GPU on this machine; the job path works on CPU."
    figures = json.loads("\n".join(lines[lines.index("{") : lines.index("}") + 1]))
    assert (figures["device"], figures["where"]) == ("cpu", "directly (no sandbox)")
    assert figures["gpus"]["cpu_only"] is True and figures["gpus"]["gpu_count"] == 0
    assert figures["gpus"]["note"] == "no NVIDIA driver answers NVML (Driver Not Loaded)"
    assert figures["inference"]["generated_tokens"] > 0
    assert figures["lora step"]["adapter_tensors"] > 0


# -- the verdict, with the runtime stood in for (no model is built or run) -------------------
H100 = Capabilities((Gpu(0, "NVIDIA H100 80GB HBM3", 81_559, "GPU-0"),), "550.54.15", "12.4")
NO_GPU = Capabilities(note="no NVIDIA driver answers NVML (Driver Not Loaded)")


def result(device: str) -> dict[str, Any]:
    metrics = {"run_seconds": 0.25, "generated_tokens": 50}
    return {"ok": True, "device": device, "output_hash": "ab" * 32, "metrics": metrics}


FAILED = {"ok": False, "error": {"code": "runtime_error", "message": "it broke"}}


def check(
    monkeypatch: pytest.MonkeyPatch,
    caps: Capabilities,
    torch_cuda: bool,
    outcomes: list[dict[str, Any]],
) -> int:
    """``gpu_check.main()`` on a machine that NVML and torch see as given, whose two
    jobs end as ``outcomes``; the devices the jobs were asked to run on are checked."""
    asked: list[str] = []

    def run_direct(job: Path, models: Path, out: Path, device: str) -> dict[str, Any]:
        asked.append(device)
        return outcomes[len(asked) - 1]

    tiny = ModuleType("worker.models.tiny_lm")
    tiny.build_tiny_lm = lambda path, seed: SimpleNamespace(digest="cd" * 32)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "worker.models.tiny_lm", tiny)
    monkeypatch.setattr(gpu_check, "probe", lambda: caps)
    monkeypatch.setattr(gpu_check, "_torch_cuda", lambda: (torch_cuda, "torch (stand-in)"))
    monkeypatch.setattr(gpu_check, "_docker_with_nvidia", lambda: None)
    monkeypatch.setattr(gpu_check, "_run_direct", run_direct)
    code = gpu_check.main([])
    assert len(asked) == 2 and len(set(asked)) == 1
    return code


def test_no_gpu_exit_0_when_the_jobs_run_on_cpu_and_1_when_one_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(monkeypatch, NO_GPU, False, [result("cpu"), result("cpu")]) == 0
    out = capsys.readouterr().out
    assert "GPUs: none. no NVIDIA driver answers NVML (Driver Not Loaded)." in out
    assert out.endswith("Result: NO GPU on this machine; the job path works on CPU.\n")
    assert check(monkeypatch, NO_GPU, False, [result("cpu"), FAILED]) == 1
    out = capsys.readouterr().out
    assert "  lora step: FAILED runtime_error: it broke\n" in out
    assert out.endswith("Result: FAILED\n")


def test_a_gpu_exit_0_only_when_the_jobs_ran_on_cuda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(monkeypatch, H100, True, [result("cuda"), result("cuda")]) == 0
    out = capsys.readouterr().out
    assert "  GPU 0: NVIDIA H100 80GB HBM3, 79.6 GiB, GPU-0\n" in out
    assert "Running on CUDA directly (no sandbox)." in out
    assert out.endswith("Result: GPU path works.\n")
    # the runtime fell back to CPU although CUDA was asked for
    assert check(monkeypatch, H100, True, [result("cuda"), result("cpu")]) == 1
    assert capsys.readouterr().out.endswith("Result: GPU path FAILED.\n")


def test_a_gpu_that_torch_cannot_use_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(monkeypatch, H100, False, [result("cpu"), result("cpu")]) == 1
    out = capsys.readouterr().out
    assert "NVML sees a GPU but torch cannot use it" in out
    assert "Running on CPU directly (no sandbox)." in out
    assert out.endswith("Result: GPU path FAILED.\n")
