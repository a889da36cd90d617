"""The verification module's genesis section: a well-formed one is taken as written, and
each kind of damage an operator could hand-edit into it is refused with what is wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chain.errors import ChainError
from modules.verification import genesis

W, O1, O2 = "11" * 20, "22" * 20, "33" * 20


def section() -> dict[str, Any]:
    pending = {
        "job_id": "7", "worker": W, "submitted_height": 10, "stage": "checking", "due": 40,
        "rate_bps": 1000, "drawn_height": 11, "verdict": "", "how": "", "accusers": [],
    }  # fmt: skip
    att = {
        "job_id": "7", "oracle": O1, "verdict": "pass", "similarity_bps": 9600,
        "evidence_hash": "ab" * 32, "stake": "5000", "height": 12,
    }  # fmt: skip
    canary = {"commitment": "cd" * 32, "oracle": O2, "height": 9, "expires": 90}
    return {
        "params": genesis.default()["params"],
        "pending": [pending],
        "attestations": [att, {**att, "oracle": O2, "verdict": "fail"}],
        "canaries": [canary],
    }


def test_a_well_formed_section_is_valid() -> None:
    genesis.validate(section())
    genesis.validate(genesis.default())


def damaged(edit: str) -> dict[str, Any]:
    g = copy.deepcopy(section())
    if edit == "pending twice":
        g["pending"].append(dict(g["pending"][0]))
    elif edit == "unknown stage":
        g["pending"][0]["stage"] = "window"  # not a stage that is ever stored
    elif edit == "bad verdict":
        g["attestations"][0]["verdict"] = "maybe"
    elif edit == "attestation twice":
        g["attestations"].append(dict(g["attestations"][0]))
    elif edit == "canary twice":
        g["canaries"].append({**g["canaries"][0], "oracle": O1})
    elif edit == "missing field":
        del g["attestations"][0]["stake"]
    elif edit == "not hex":
        g["canaries"][0]["commitment"] = "zz"
    return g


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ("pending twice", "verification genesis lists a pending job twice"),
        ("unknown stage", "pending job 7 has unknown stage 'window'"),
        ("bad verdict", "attestation on job 7 has verdict 'maybe'"),
        ("attestation twice", "verification genesis lists an attestation twice"),
        ("canary twice", "verification genesis lists a canary commitment twice"),
        ("missing field", "verification genesis: KeyError: 'stake'"),
        ("not hex", "verification genesis: ValueError"),
    ],
)
def test_damage_is_refused_saying_what(edit: str, why: str) -> None:
    with pytest.raises(ChainError) as e:
        genesis.validate(damaged(edit))
    assert why in str(e.value)
