"""The modules' REST routes, mounted on the node's REST app (filled in by its own change)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.node import Node


def mount(rest: Any, node: Node) -> None:
    """Add the modules' routes to ``rest`` (a FastAPI app); none yet."""
