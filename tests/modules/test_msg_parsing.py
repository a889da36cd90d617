"""Messages are parsed once: each route's ``validate`` takes the generated
protobuf class and returns the typed value its handler takes, and the app
hands each handler exactly the value ``validate`` returned for its message."""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

import pytest

from app import wiring
from chain.coins import DENOM
from chain.context import Ctx
from chain.module import MsgSpec
from modules.bank.msgs import SEND_URL, MsgSend
from tests.support.chain import ALICE, BOB, Chain, assert_ok, msg_send

ROUTES = [spec for m in wiring.build().modules for spec in m.msgs]


def _param_and_return(fn: Any) -> tuple[Any, Any]:
    """The type of ``fn``'s last parameter (the message) and of its result; a handler
    is a ``functools.partial`` of a function that takes its keeper first."""
    hints = get_type_hints(getattr(fn, "func", fn))
    params = [t for name, t in hints.items() if name != "return"]
    return params[-1], hints.get("return")


@pytest.mark.parametrize("spec", ROUTES, ids=[s.type_url for s in ROUTES])
def test_validate_parses_the_protobuf_message_into_what_its_handler_takes(
    spec: MsgSpec,
) -> None:
    takes, parsed = _param_and_return(spec.validate)
    assert takes is spec.cls, f"validate takes {takes}, not the message class"
    assert parsed is not type(None), "validate returns nothing for the handler"
    handler_takes, _ = _param_and_return(spec.handler)
    assert handler_takes is parsed, f"the handler takes {handler_takes}; validate gives {parsed}"
    if parsed is not spec.cls:
        assert dataclasses.is_dataclass(parsed), f"{parsed} is not a dataclass"
        assert vars(parsed)["__dataclass_params__"].frozen, f"{parsed} is not frozen"


def test_the_handler_gets_the_very_value_validate_returned(chain: Chain) -> None:
    app = chain.app
    orig = app.routes[SEND_URL]
    validated: list[object] = []
    handled: list[object] = []

    def validate(msg: MsgSend) -> object:
        p = orig.validate(msg)
        validated.append(p)
        return p

    def handler(ctx: Ctx, p: object) -> None:
        handled.append(p)
        orig.handler(ctx, p)

    app.routes[SEND_URL] = dataclasses.replace(orig, validate=validate, handler=handler)
    try:
        raw = chain.sign(ALICE, [msg_send(ALICE, BOB, 1), msg_send(ALICE, BOB, 2)])
        assert_ok(chain.deliver_one(raw))
    finally:
        app.routes[SEND_URL] = orig
    assert len(validated) == 2  # each message parsed once
    assert len(handled) == 2 and all(h is v for h, v in zip(handled, validated, strict=True))
    assert [p.coins for p in handled] == [((DENOM, 1),), ((DENOM, 2),)]  # type: ignore[attr-defined]
