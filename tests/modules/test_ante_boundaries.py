"""Ante rules at their edges: a tx's timeout height is the last height it may be
included at, a fee the signer cannot pay is refused naming the signer, and running out
of gas in the ante names the charge that ran out."""

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


def test_out_of_gas_in_the_ante_names_the_charge_that_ran_out(tmp_path: Path) -> None:
    """The ante charges the tx's size (10 gas a byte), then its signature (1,000 gas): a
    limit short of either says which, so the sender knows what the limit must cover."""
    chain = Chain(new_app(tmp_path / "app", make_genesis()))
    try:
        r = chain.deliver_one(chain.send(ALICE, BOB, 1, gas_limit=100, count=False))
        assert r.code == 11 and "out of gas in tx size: limit 100," in r.log, r.log
        # Raise the limit to what each failure said it needed (the account reads come
        # between the two charges) until the signature's charge is the one that runs out.
        limit, charges = 100, []
        while "signature verification" not in r.log and len(charges) < 10:
            charges.append(r.log.split(": limit")[0].removeprefix("out of gas: out of gas in "))
            limit = int(r.log.split("needed at least ")[1].split(";")[0])
            r = chain.deliver_one(chain.send(ALICE, BOB, 1, gas_limit=limit, count=False))
        assert r.code == 11 and f"in signature verification: limit {limit}," in r.log, r.log
        # (a larger limit can take a byte more to encode: the size may run out twice)
        assert charges[0] == "tx size" and set(charges) == {"tx size", "state read"}, charges
        r = chain.deliver_one(chain.send(ALICE, BOB, 1, gas_limit=limit + 1_000))
        assert "signature verification" not in r.log, r.log  # past the ante now
    finally:
        chain.app.close()
