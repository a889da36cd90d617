"""The CometBFT validator set, read from staking's ``validator`` bonds.

A validator bond carries the validator's ed25519 consensus public key (the
32 bytes of ``pub_key.value`` in CometBFT's ``priv_validator_key.json``). A
bond is in the set when it reaches ``min_bond_validator``, has no jail record
(a jail ends only with ``MsgUnjail``, as in cosmos-sdk) and is not tombstoned;
its voting power is the bond in whole VCN (``amount // 10**18``), and a power
of 0 leaves it out. The set is sorted by public key.

``genesis_validators(app_state)`` reads the set from a genesis ``app_state``
(for the CometBFT genesis file); ``current_set(ctx)`` reads it from state, and
``updates(ctx)`` is the difference to the set CometBFT was last told about,
which it then records (the end of every block, and InitChain).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Any

from chain.coins import DECIMALS
from chain.crypto import from_bech32
from modules.staking.errors import ErrInvalidGenesis

ROLE = "validator"
ED25519_KEY_LEN = 32
VOTING_UNIT: int = 10**DECIMALS  # one unit of voting power: 1 VCN in avcn


def power_of(amount: int) -> int:
    """The voting power of a bond of ``amount`` avcn: whole VCN."""
    return amount // VOTING_UNIT


def consensus_address(pubkey: bytes) -> bytes:
    """CometBFT's address of an ed25519 key: the first 20 bytes of its sha256."""
    return hashlib.sha256(pubkey).digest()[:20]


def decode_pubkey(text: object, what: str) -> bytes:
    """A genesis ``consensus_pubkey``: base64 of the 32 raw bytes of the key."""
    if not isinstance(text, str) or not text:
        raise ErrInvalidGenesis(f"{what}: consensus_pubkey must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ErrInvalidGenesis(f"{what}: consensus_pubkey is not base64: {e}") from e
    if len(raw) != ED25519_KEY_LEN:
        raise ErrInvalidGenesis(
            f"{what}: consensus_pubkey must be {ED25519_KEY_LEN} bytes, got {len(raw)}"
        )
    return raw


def encode_pubkey(pubkey: bytes) -> str:
    return base64.b64encode(pubkey).decode()


def select(candidates: Iterable[tuple[bytes, int]], min_bond: int) -> list[tuple[bytes, int]]:
    """(pubkey, power) of the candidates (pubkey, bond in avcn) whose bond
    reaches ``min_bond`` and whose power is not 0, sorted by public key.
    The caller has already left out jailed and tombstoned ones."""
    return sorted(
        (pk, power_of(amount))
        for pk, amount in candidates
        if amount >= min_bond and power_of(amount) > 0
    )


def genesis_validators(app_state: dict[str, Any]) -> list[tuple[bytes, int]]:
    """(ed25519 pubkey, voting power) of each validator in a genesis
    ``app_state``, sorted by public key: what InitChain will answer.

    Raises ``ErrInvalidGenesis`` when the staking genesis is invalid."""
    from modules.staking import genesis  # genesis imports this module
    from modules.staking.params import Params

    g = app_state.get("staking") or genesis.default()
    genesis.validate(g)
    params = Params.from_json(g.get("params", {}))
    out_of_set = {
        from_bech32(str(e["address"]))
        for e in [*g.get("jails", []), *g.get("tombstones", [])]
        if e.get("role") == ROLE
    }
    candidates = [
        (decode_pubkey(b.get("consensus_pubkey"), "bond"), int(str(b["amount"])))
        for b in g.get("bonds", [])
        if b.get("role") == ROLE and from_bech32(str(b["address"])) not in out_of_set
    ]
    return select(candidates, params.min_bond_validator)
