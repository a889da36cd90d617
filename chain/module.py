"""What a module gives the app: messages, queries, genesis and block hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic

from google.protobuf.message import Message

# typing's own TypeVar takes a default from Python 3.13 on
from typing_extensions import TypeVar

from chain.context import Ctx
from chain.foreign import ForeignTxs
from chain.valset import ConsensusInputs, ValidatorUpdate

# M: a message's generated protobuf class; P: what its validation parses it
# into, handed to its handler. A bare ``MsgSpec`` (the router's view) is
# ``MsgSpec[Any, Any]``.
M = TypeVar("M", bound=Message, default=Any)
P = TypeVar("P", default=Any)

Handler = Callable[[Ctx, P], None]
Query = Callable[[Ctx, dict[str, Any]], Any]
# A check of the module's state between blocks: None, or what is wrong.
Invariant = Callable[[Ctx], str | None]


@dataclass(frozen=True)
class MsgSpec(Generic[M, P]):
    """A message type: its protobuf class, who must sign it, and its handler.

    ``signer`` returns the bech32 address that must sign the tx. ``validate``
    does the stateless checks and parses the message once: it returns the
    parsed value (a frozen dataclass of typed fields, or the message itself
    when nothing needs parsing) or raises a ChainError saying what is wrong.
    ``handler`` receives that parsed value, never the raw message.
    """

    type_url: str
    cls: type[M]
    signer: Callable[[M], str]
    validate: Callable[[M], P]
    handler: Handler[P]


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
    # CometBFT's inputs of a block (the last commit's votes, misbehavior), run
    # on every module before the begin-block hooks; the solo driver passes none
    consensus_begin: Callable[[Ctx, ConsensusInputs], None] | None = None
    # after the end-block hooks: the validator set's changes since the module
    # last answered (it records the new set), as cosmos-sdk's EndBlock returns them
    validator_updates: Callable[[Ctx], list[ValidatorUpdate]] | None = None
    # the validator set in state, whole (InitChain's answer)
    validator_set: Callable[[Ctx], list[ValidatorUpdate]] | None = None
    # by name; each module's invariants.py builds them (checked by the simulation tests)
    invariants: dict[str, Invariant] = field(default_factory=dict)
    # txs of another envelope than a Cosmos TxRaw that this module runs (the EVM's)
    foreign_txs: ForeignTxs | None = None
