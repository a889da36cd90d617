"""What a module gives the app: messages, queries, genesis and block hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from chain.context import Ctx

Handler = Callable[[Ctx, Any], None]
Query = Callable[[Ctx, dict[str, Any]], Any]
# A check of the module's state between blocks: None, or what is wrong.
Invariant = Callable[[Ctx], str | None]


@dataclass(frozen=True)
class MsgSpec:
    """A message type: its protobuf class, who must sign it, and its handler.

    ``signer`` returns the bech32 address that must sign the tx; ``validate``
    does stateless checks and raises a ChainError saying what is wrong.
    """

    type_url: str
    cls: type[Message]
    signer: Callable[[Any], str]
    validate: Callable[[Any], None]
    handler: Handler


@dataclass
class Module:
    name: str
    msgs: list[MsgSpec] = field(default_factory=list)
    queries: dict[str, Query] = field(default_factory=dict)
    default_genesis: Callable[[], dict[str, Any]] = dict
    validate_genesis: Callable[[dict[str, Any]], None] = lambda g: None
    init_genesis: Callable[[Ctx, dict[str, Any]], None] = lambda ctx, g: None
    export_genesis: Callable[[Ctx], dict[str, Any]] = lambda ctx: {}
    begin_block: Callable[[Ctx], None] | None = None
    end_block: Callable[[Ctx], None] | None = None
    # by name; each module's invariants.py builds them (checked by the simulation tests)
    invariants: dict[str, Invariant] = field(default_factory=dict)
