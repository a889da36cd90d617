"""Ethereum JSON-RPC methods: ots (filled in by its own change)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.ethrpc.methods import EthApi, Method


def methods(api: EthApi) -> dict[str, Method]:
    """The ots methods by name (none yet)."""
    return {}
