"""Handlers of the auth module: validate → state → event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.auth import events, state
from modules.auth.errors import ErrNotAuthority, ErrUnknownModule
from modules.auth.expected import ParamsOwner
from modules.auth.msgs import UpdateParams


def handle_update_params(
    owners: Callable[[], Mapping[str, ParamsOwner]],
    ctx: Ctx,
    msg: UpdateParams,
) -> None:
    authority = state.get_params(ctx).authority
    if msg.authority != authority:
        raise ErrNotAuthority(
            f"{msg.authority} may not change params; only the authority {authority} may"
        )
    table = owners()
    owner = table.get(msg.module)
    if owner is None:
        raise ErrUnknownModule(f"no module {msg.module!r} has params; known: {sorted(table)}")
    # fields left out keep their values: a partial object must not reset
    # the rest to defaults (that would hand the authority to a keyless address)
    owner.set_params(ctx, {**owner.get_params(ctx), **msg.params})
    ctx.emit(events.params_updated(msg.module, msg.authority))


def make_update_params(owners: Callable[[], Mapping[str, ParamsOwner]]) -> Handler[UpdateParams]:
    return partial(handle_update_params, owners)
