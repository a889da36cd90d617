"""The modules' REST routes, mounted on the node's REST app by ``app.node.Node.extend_rest``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.rest import chainmods, market, swagger, training
from app.rest.common import Reader

if TYPE_CHECKING:
    from app.node import Node


def mount(rest: Any, node: Node) -> None:
    """Add the modules' routes and Swagger UI to ``rest`` (the node's FastAPI app)."""
    r = Reader(node, rest.state.rest)
    market.mount_jobs(rest, r)
    market.mount_staking(rest, r)
    market.mount_verification(rest, r)
    market.mount_reputation(rest, r)
    chainmods.mount_mint(rest, r)
    chainmods.mount_slashing(rest, r)
    chainmods.mount_authz(rest, r)
    chainmods.mount_drip(rest, r)
    chainmods.mount_evm(rest, r)
    training.mount_training(rest, r)
    swagger.mount(rest)
