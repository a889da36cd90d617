"""Events of the auth module."""

from chain.events import Event

PARAMS_UPDATED = "params_updated"


def params_updated(module: str, authority: str) -> Event:
    return Event.of(PARAMS_UPDATED, module=module, authority=authority)
