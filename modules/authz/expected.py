"""What the authz module needs from the rest of the app, handed in by the
wiring (``app/wiring.py``) rather than imported: which message types are
grantable and what each would spend, and the app's message routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.context import Ctx

# What running a message would spend from its signer (avcn): the jobs module's
# post job escrows its max price; a cancel spends nothing. It gets the message
# as its route's ``validate`` parsed it, and the state before it runs.
SpendFn = Callable[[Ctx, Any], int]


def no_spend(ctx: Ctx, parsed: Any) -> int:
    """The spend of a message that moves none of its signer's coins."""
    return 0
