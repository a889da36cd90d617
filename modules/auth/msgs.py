"""Messages of the auth module: each one's stateless checks parse it once into
what its handler takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain.bounded import InputError, load_json
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress, ErrInvalidRequest
from chain.proto import type_url
from modules.auth import tx_pb2

# The module's messages, generated from proto/vcoin/auth/v1/tx.proto.
MsgUpdateParams = tx_pb2.MsgUpdateParams

UPDATE_PARAMS_URL = type_url(MsgUpdateParams)
MAX_PARAMS_JSON_BYTES = 16_384


@dataclass(frozen=True)
class UpdateParams:
    """A checked MsgUpdateParams: the params JSON parsed into an object."""

    authority: str
    module: str
    params: dict[str, Any]


def params_json(msg: MsgUpdateParams) -> Any:
    """The message's params object, parsed within bounds (see chain/bounded.py)."""
    try:
        return load_json(msg.params_json, "params_json", max_bytes=MAX_PARAMS_JSON_BYTES)
    except InputError as e:
        raise ErrInvalidRequest(str(e)) from e


def validate_update_params(msg: MsgUpdateParams) -> UpdateParams:
    try:
        from_bech32(msg.authority)
    except AddressError as e:
        raise ErrInvalidAddress(f"authority: {e}") from e
    if not msg.module:
        raise ErrInvalidRequest("module is required")
    d = params_json(msg)
    if not isinstance(d, dict):
        raise ErrInvalidRequest("params_json must be a JSON object")
    return UpdateParams(msg.authority, msg.module, d)
