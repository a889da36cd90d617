"""The Python lock: what scripts/setup installs is what pyproject.toml asks for."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "lock.txt"
IMAGE_LOCK = REPO / "requirements" / "worker-image.txt"


def _pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in found}


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += [r for r in extra if not r.startswith("vcoin[")]
    for f in (REPO / "requirements" / "tools.in", REPO / "worker/image/requirements.txt"):
        lines += [ln for ln in f.read_text().splitlines() if ln and not ln.startswith("#")]
    return [Requirement(line) for line in lines]


def _check(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo / "scripts" / "lock.py"), "--check"],
        capture_output=True,
        text=True,
    )


def test_the_committed_lock_was_made_from_todays_inputs() -> None:
    r = _check(REPO)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("req", _requirements(), ids=str)
def test_every_requirement_is_locked_at_a_version_it_allows(req: Requirement) -> None:
    name = re.sub(r"[-_.]+", "-", req.name).lower()
    version = _pins(LOCK).get(name)
    assert version is not None, f"{req.name} is not in requirements/lock.txt"
    assert req.specifier.contains(version, prereleases=True), f"{req} but locked {version}"


def test_the_image_lock_has_the_main_locks_versions() -> None:
    main, image = _pins(LOCK), _pins(IMAGE_LOCK)
    assert "torch" in image
    assert {n: v for n, v in image.items() if main.get(n) != v} == {}


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    for rel in ("pyproject.toml", "requirements", "scripts/lock.py", "worker/image"):
        src, dst = REPO / rel, tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)
    return tmp_path


def test_a_dependency_added_to_pyproject_fails_the_check_saying_what_to_run(
    repo_copy: Path,
) -> None:
    assert _check(repo_copy).returncode == 0
    pyproject = repo_copy / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"pynacl>=1.5",', '"pynacl>=1.5",\n    "rich>=13",'))
    r = _check(repo_copy)
    assert r.returncode == 1
    assert "run scripts/lock" in r.stderr


def test_a_changed_image_pin_fails_the_check(repo_copy: Path) -> None:
    image = repo_copy / "worker/image/requirements.txt"
    image.write_text(image.read_text().replace("numpy==", "numpy>="))
    assert _check(repo_copy).returncode == 1


def test_settings_outside_the_dependencies_leave_the_lock_valid(repo_copy: Path) -> None:
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 100", "line-length = 99"))
    assert _check(repo_copy).returncode == 0
