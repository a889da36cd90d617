"""A job run in process without a scratch folder leaves none behind, whether it
succeeds or is refused: an oracle that re-runs jobs in its own process for days would
otherwise fill the temporary folder with one model copy per job."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from compute.runtime.errors import JobError
from tests.worker.test_runtime import PROMPTS, job, run
from worker.models.artifact import ModelArtifact


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tempfile``'s folder for this test alone, so what a run leaves there is seen."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def test_a_finished_job_leaves_no_scratch(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path, temp_dir: Path
) -> None:
    doc = run(
        job("text-generation", tiny_lm.digest, PROMPTS, max_new_tokens=4), tmp_path, models_dir
    )
    assert doc["ok"] and (tmp_path / "out" / doc["output"]["file"]).is_file()
    assert sorted(p.name for p in temp_dir.iterdir()) == []


def test_a_refused_job_leaves_no_scratch(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path, temp_dir: Path
) -> None:
    with pytest.raises(JobError) as e:  # a language model cannot embed
        run(job("embedding", tiny_lm.digest, {"texts": ["a"]}), tmp_path, models_dir)
    assert e.value.code == "bad_model"
    assert sorted(p.name for p in temp_dir.iterdir()) == []
