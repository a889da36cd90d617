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
import logging
from collections.abc import Iterable
from typing import Any

from chain.coins import DECIMALS
from chain.context import Ctx
from chain.crypto import from_bech32
from chain.valset import ValidatorUpdate, consensus_address
from modules.staking import state
from modules.staking.errors import ErrInvalidGenesis

log = logging.getLogger("vcoin.staking")

ROLE = "validator"
ED25519_KEY_LEN = 32
VOTING_UNIT: int = 10**DECIMALS  # one unit of voting power: 1 VCN in avcn


def power_of(amount: int) -> int:
    """The voting power of a bond of ``amount`` avcn: whole VCN."""
    return amount // VOTING_UNIT


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


def current_set(ctx: Ctx) -> list[tuple[bytes, int]]:
    """(pubkey, power) of each validator in state, sorted by public key."""
    candidates = []
    for _, addr, amount in state.iterate_bonds(ctx, ROLE):
        if state.jailed_until(ctx, addr, ROLE) or state.is_tombstoned(ctx, addr, ROLE):
            continue
        pubkey = state.consensus_key(ctx, addr)
        if pubkey is not None:
            candidates.append((pubkey, amount))
    return select(candidates, state.get_params(ctx).min_bond_validator)


def validator_set(ctx: Ctx) -> list[ValidatorUpdate]:
    return [ValidatorUpdate(pk, power) for pk, power in current_set(ctx)]


def updates(ctx: Ctx) -> list[ValidatorUpdate]:
    """The set's changes since CometBFT was last told, sorted by public key, and
    record the new set: a new validator with its power, a changed power, and 0
    for one that left (unbonded under the minimum, jailed, tombstoned).

    A change that would leave CometBFT no validator at all (it halts on one)
    is held back, logged, until a validator is in the set again."""
    new = dict(current_set(ctx))
    old = state.last_powers(ctx)
    if old and not new:
        log.warning(
            "height %d: no validator would be left; the last set stays in place", ctx.block.height
        )
        return []
    out = []
    for pubkey in sorted(new.keys() | old.keys()):
        power = new.get(pubkey, 0)
        if old.get(pubkey, 0) != power:
            out.append(ValidatorUpdate(pubkey, power))
            state.set_last_power(ctx, pubkey, power)
    return out


__all__ = [
    "consensus_address",
    "current_set",
    "decode_pubkey",
    "encode_pubkey",
    "genesis_validators",
    "power_of",
    "select",
    "updates",
    "validator_set",
]
