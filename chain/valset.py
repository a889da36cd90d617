"""CometBFT's side of a block as plain data: what the validators did (the last
commit's votes, reported misbehavior) and the validator set changes the app
answers with. ``abci/`` translates them from and to protobuf; the solo driver,
which has no other validator, passes none and ignores the updates.

Addresses are CometBFT's validator addresses: the first 20 bytes of the sha256
of the ed25519 consensus public key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def consensus_address(pubkey: bytes) -> bytes:
    """CometBFT's address of an ed25519 key: the first 20 bytes of its sha256."""
    return hashlib.sha256(pubkey).digest()[:20]


DUPLICATE_VOTE = "duplicate_vote"
LIGHT_CLIENT_ATTACK = "light_client_attack"
MISBEHAVIOR_KINDS = (DUPLICATE_VOTE, LIGHT_CLIENT_ATTACK)


@dataclass(frozen=True, order=True)
class ValidatorUpdate:
    """A validator's new voting power; 0 removes it from the set."""

    pubkey: bytes  # the 32 raw bytes of an ed25519 public key
    power: int


@dataclass(frozen=True)
class Vote:
    """One validator of the last commit: whether its precommit for the block is in it."""

    address: bytes
    signed: bool
    power: int = 0


@dataclass(frozen=True)
class Misbehavior:
    """Evidence CometBFT verified against a validator (``kind`` is one of
    ``MISBEHAVIOR_KINDS``) for a fault at ``height``."""

    kind: str
    address: bytes
    height: int
    time_ns: int = 0
    total_voting_power: int = 0


@dataclass(frozen=True)
class ConsensusInputs:
    """FinalizeBlock's consensus inputs: the last commit's votes and misbehavior."""

    votes: tuple[Vote, ...] = ()
    misbehavior: tuple[Misbehavior, ...] = ()


NO_INPUTS = ConsensusInputs()
