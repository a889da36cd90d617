"""``wait_for``: poll a condition until it holds, or fail saying what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    poll: float = 0.2,
    step: Callable[[], Any] | None = None,
) -> Any:
    """Call ``check`` every ``poll`` seconds until it returns something truthy, and return
    that; an AssertionError naming ``what`` after ``timeout`` seconds. ``step``, if given,
    runs before every check (for a test that drives a daemon by hand)."""
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)


def answers(url: str, method: str = "GET", **kw: Any) -> int:
    """The HTTP status ``url`` answers with, or 0 when nothing answers there (yet)."""
    try:
        return httpx.request(method, url, timeout=2, **kw).status_code
    except httpx.HTTPError:
        return 0
