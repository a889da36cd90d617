"""Which sandbox the marketplace tests run their jobs in (``tests.e2e.market``): the
choice alone, with the engine and the image stood in for, so it runs without Docker."""

from __future__ import annotations

import pytest

import compute.sandbox.docker_backend as docker_backend
import worker.image.build as image_build
from tests.e2e.market import sandbox_kind

NO_ENGINE = "no Docker engine answers (DockerException: gone); run scripts/setup-docker"


def machine(
    monkeypatch: pytest.MonkeyPatch, *, engine: bool, image: bool, require: str | None
) -> list[str]:
    """Stand in for the engine and the image store; the image tags looked up."""
    asked: list[str] = []

    def image_exists(tag: str) -> bool:
        asked.append(tag)
        return image

    monkeypatch.setattr(docker_backend, "engine_problem", lambda: None if engine else NO_ENGINE)
    monkeypatch.setattr(image_build, "image_exists", image_exists)
    if require is None:
        monkeypatch.delenv("VCOIN_REQUIRE_DOCKER", raising=False)
    else:
        monkeypatch.setenv("VCOIN_REQUIRE_DOCKER", require)
    return asked


@pytest.mark.parametrize("require", [None, "1"])
def test_docker_when_the_engine_answers_and_the_image_is_built(
    monkeypatch: pytest.MonkeyPatch, require: str | None
) -> None:
    asked = machine(monkeypatch, engine=True, image=True, require=require)
    assert sandbox_kind() == "docker"
    assert asked == [image_build.image_tag()]  # the tag of this source tree


@pytest.mark.parametrize(("engine", "require"), [(True, None), (False, None), (True, "0")])
def test_the_process_sandbox_when_docker_is_not_required(
    monkeypatch: pytest.MonkeyPatch, engine: bool, require: str | None
) -> None:
    machine(monkeypatch, engine=engine, image=False, require=require)
    assert sandbox_kind() == "process"


def test_required_docker_without_the_image_fails_and_says_to_build_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine(monkeypatch, engine=True, image=False, require="1")
    with pytest.raises(pytest.fail.Exception, match="run scripts/build-worker-image") as e:
        sandbox_kind()
    assert image_build.image_tag() in str(e.value)


def test_required_docker_without_an_engine_fails_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine(monkeypatch, engine=False, image=True, require="1")
    with pytest.raises(pytest.fail.Exception, match="no Docker engine answers"):
        sandbox_kind()
