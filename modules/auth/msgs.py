"""Messages of the auth module."""

from __future__ import annotations

import json
from typing import Any

from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress, ErrInvalidRequest
from chain.proto import declare, type_url

_M = declare(
    "vcoin.auth.v1",
    {
        # One message changes any module's params; ``params_json`` is a JSON
        # object of the params of ``module`` to change (others keep their values).
        "MsgUpdateParams": [
            ("authority", "string", 1),
            ("module", "string", 2),
            ("params_json", "string", 3),
        ],
    },
)
MsgUpdateParams = _M["MsgUpdateParams"]
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
