"""Fixtures for the oracle tests: real model artifacts and real runtime runs.

* ``models``: the tiny causal LM (seed 0) and all-MiniLM-L6-v2 written as
  content-addressed blobs into one folder, built once per session.
* ``run_job``: runs a job through the worker runtime in this process (the
  code the sandbox runs) and returns the output file.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Models:
    folder: Path
    lm: str  # manifest sha256 of tiny-lm-s0
    minilm: str


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    from worker.models.minilm import build_minilm
    from worker.models.tiny_lm import build_tiny_lm

    folder = tmp_path_factory.mktemp("models")
    return Models(folder, build_tiny_lm(folder, 0).digest, build_minilm(folder).digest)


RunJob = Callable[..., Path]


@pytest.fixture(scope="session")
def run_job(tmp_path_factory: pytest.TempPathFactory, models: Models) -> RunJob:
    from compute.runtime.__main__ import run_job as runtime_run

    root = tmp_path_factory.mktemp("runs")
    counter = itertools.count()

    def run(task: str, model: str, inline: dict[str, Any], **params: Any) -> Path:
        n = next(counter)
        job = {"version": 1, "task": task, "model": model, "input": {"inline": inline}}
        job["params"] = params
        jf = root / f"job{n}.json"
        jf.write_text(json.dumps(job))
        (root / "inputs").mkdir(exist_ok=True)
        out = root / f"out{n}"
        doc = runtime_run(jf, root / "inputs", models.folder, out, root / f"scratch{n}", "cpu")
        return out / doc["output"]["file"]

    return run
