"""The docker sandbox reads a job's OOM kill even when the daemon records it late.

The daemon sets a container's ``OOMKilled`` from the kernel's OOM event, which on a
loaded machine can arrive after the container's exit (CI saw a job the kernel killed
for its memory limit reported as ``sandbox_error``). That timing is the daemon's, out of
a test's reach, so the container here is a stand-in, named so: it reports
``OOMKilled`` only after a given number of reloads.
"""

from __future__ import annotations

import time

import pytest

from compute.sandbox import docker_backend
from compute.sandbox.docker_backend import DockerSandbox


class LateOomEventContainer:
    """Stand-in for docker's Container whose OOMKilled flag shows from the n-th reload."""

    def __init__(self, oom_at_reload: int | None) -> None:
        self.oom_at = oom_at_reload
        self.reloads = 0
        self.attrs = {"State": {"OOMKilled": False}}

    def reload(self) -> None:
        self.reloads += 1
        if self.oom_at is not None and self.reloads >= self.oom_at:
            self.attrs["State"]["OOMKilled"] = True


def test_a_sigkill_waits_for_the_late_oom_flag() -> None:
    c = LateOomEventContainer(oom_at_reload=4)
    assert DockerSandbox.oom_killed(c, 137, timed_out=False) is True
    assert c.reloads == 4


def test_a_sigkill_without_an_oom_is_not_one_and_the_wait_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_backend, "OOM_EVENT_WAIT_S", 0.3)
    c = LateOomEventContainer(oom_at_reload=None)
    t0 = time.monotonic()
    assert DockerSandbox.oom_killed(c, 137, timed_out=False) is False
    assert 0.3 <= time.monotonic() - t0 < 1.5


@pytest.mark.parametrize(("exit_code", "timed_out"), [(1, False), (0, False), (137, True)])
def test_other_exits_are_read_once(exit_code: int, timed_out: bool) -> None:
    """A crash, a clean exit, or the sandbox's own kill at the time limit: no wait."""
    c = LateOomEventContainer(oom_at_reload=2)
    assert DockerSandbox.oom_killed(c, exit_code, timed_out) is False
    assert c.reloads == 1


def test_an_oom_flag_already_set_is_read_once() -> None:
    c = LateOomEventContainer(oom_at_reload=1)
    assert DockerSandbox.oom_killed(c, 137, timed_out=False) is True
    assert c.reloads == 1
