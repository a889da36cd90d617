"""The block explorer the node serves at ``/explorer`` (filled in by its own change)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.node import Node


def mount(rest: Any, node: Node) -> None:
    """Serve the explorer on ``rest`` (a FastAPI app); nothing yet."""
