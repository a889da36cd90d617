"""Messages of the auth module."""

from __future__ import annotations

import json
from typing import Any

from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress, ErrInvalidRequest
from chain.proto import type_url
from modules.auth import tx_pb2

# The module's messages, generated from proto/vcoin/auth/v1/tx.proto.
MsgUpdateParams = tx_pb2.MsgUpdateParams

UPDATE_PARAMS_URL = type_url(MsgUpdateParams)


def validate_update_params(msg: Any) -> None:
    try:
        from_bech32(msg.authority)
    except AddressError as e:
        raise ErrInvalidAddress(f"authority: {e}") from e
    if not msg.module:
        raise ErrInvalidRequest("module is required")
    try:
        d = json.loads(msg.params_json)
    except ValueError as e:
        raise ErrInvalidRequest(f"params_json is not JSON: {e}") from e
    if not isinstance(d, dict):
        raise ErrInvalidRequest("params_json must be a JSON object")
