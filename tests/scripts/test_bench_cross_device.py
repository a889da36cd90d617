"""scripts/bench/cross_device.py, the honest false-positive count across devices, run
small on this machine's CPU (1 thread against 2): every check kind is counted, an
honest run passes them all, and a device that is not here is refused, not faked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "bench"))

import cross_device  # noqa: E402


def test_honest_jobs_pass_every_check_kind(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cross_device.main(["--text-jobs", "2", "--embed-jobs", "2", "--lora-jobs", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    for kind in (
        "prefill (greedy-prefill",
        "drawn embedding rows (embedding-row-subset-cosine)",
        "LoRA interval replay (lora-interval-replay",
        "full re-run, text",
        "full re-run, embed",
        "full re-run, lora",
    ):
        assert kind in out, out
    assert out.count("0 of 2 failed") == 4 and out.count("0 of 1 failed") == 2, out
    assert "0 honest job(s) failed a check" in out


def test_a_device_that_is_not_here_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for one without")
    assert cross_device.main(["--worker", "cuda", "--text-jobs", "1"]) == 2
    assert "no CUDA device here" in capsys.readouterr().out
