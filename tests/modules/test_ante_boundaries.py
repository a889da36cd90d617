"""Ante rules at their edges: a tx's timeout height is the last height it may be
included at, and a fee the signer cannot pay is refused naming the signer."""

from __future__ import annotations

from pathlib import Path

from chain.crypto import PrivateKey
from tests.support.chain import ALICE, BOB, Chain, make_genesis, new_app


def test_a_tx_is_included_up_to_and_at_its_timeout_height_not_after(tmp_path: Path) -> None:
    chain = Chain(new_app(tmp_path / "app", make_genesis()))
    try:
        chain.block([])
        nxt = chain.height + 1
        late = chain.send(ALICE, BOB, 1, timeout_height=nxt - 1, count=False)
        r = chain.block([late]).tx_results[0]
        assert (r.codespace, r.code) == ("sdk", 30) and "timed out" in r.log
        nxt = chain.height + 1
        at = chain.send(ALICE, BOB, 2, timeout_height=nxt)
        assert chain.block([at]).tx_results[0].code == 0  # in the block at its timeout height
        nxt = chain.height + 1
        ahead = chain.send(ALICE, BOB, 3, timeout_height=nxt + 1)
        assert chain.block([ahead]).tx_results[0].code == 0
    finally:
        chain.app.close()


def test_a_fee_the_signer_cannot_pay_is_refused_naming_the_signer(tmp_path: Path) -> None:
    poor = PrivateKey.from_seed(b"ante-boundaries-poor")
    chain = Chain(new_app(tmp_path / "app", make_genesis()))
    try:
        assert chain.block([chain.send(ALICE, poor, 10)]).tx_results[0].code == 0
        r = chain.block([chain.send(poor, BOB, 1, fee_amount=10**18)]).tx_results[0]
        assert r.code != 0 and f"{poor.bech32} cannot pay the fee" in r.log, r.log
    finally:
        chain.app.close()
