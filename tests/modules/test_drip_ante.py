"""The sponsored drip claim's own checks in ``modules/drip/ante.py``, where
scripts/mutation showed no test held them: the gas it charges (auth's size and
signature costs, named when they run out), its timeout height at and past the block,
the refusals that name the key, and a simulation through the drip's ante that skips
signatures as auth's does, for a claim and for any other tx."""

from __future__ import annotations

import pytest

from chain.crypto import PrivateKey
from modules.auth.params import Params as AuthParams
from modules.drip.ante import CLAIM_GAS
from modules.drip.msgs import MsgClaimDrip
from tests.modules.test_canary_budget import DRIP, FUNDER, fresh, fund, pool_balance
from tests.support.chain import Chain, msg_send, sign

AUTH = AuthParams()
PER_BYTE, SIG = AUTH.tx_size_cost_per_byte, AUTH.sig_verify_cost_secp256k1


def claim(key: PrivateKey, gas: int = CLAIM_GAS, **kw: object) -> bytes:
    msg = MsgClaimDrip(recipient=key.bech32)
    return sign(key, [msg], account_number=0, sequence=0, fee_amount=0, gas_limit=gas, **kw)


def test_a_sponsored_claim_pays_auths_size_and_signature_gas_named_when_short(
    chain: Chain,
) -> None:
    fund(chain, 3 * DRIP)
    size_gas = PER_BYTE * len(claim(fresh(30), gas=1_000))  # gas limits of 2 varint bytes
    assert len(claim(fresh(30), gas=size_gas + SIG)) == len(claim(fresh(30), gas=1_000))
    r = chain.deliver_one(claim(fresh(30), gas=size_gas - 1))
    assert "out of gas in tx size" in r.log, r.log
    need = r.gas_used  # the state the ante read, then the whole size charge
    assert need >= size_gas and f"needed at least {need}" in r.log
    r = chain.deliver_one(claim(fresh(31), gas=need + SIG - 1))
    assert "out of gas in signature verification" in r.log, r.log
    r = chain.deliver_one(claim(fresh(34), gas=need + SIG))
    assert "signature verification" not in r.log and "tx size" not in r.log, r.log
    assert chain.account(fresh(30)) is None and chain.account(fresh(31)) is None
    assert pool_balance(chain) == 3 * DRIP


@pytest.mark.parametrize(("ahead", "ok"), [(1, True), (0, False), (2, True)])
def test_a_sponsored_claim_times_out_after_its_timeout_height(
    chain: Chain, ahead: int, ok: bool
) -> None:
    """``ahead``: the timeout height less the last committed one; the claim runs in the
    next block, so 1 is the block itself (still in time) and 0 the block before."""
    fund(chain, DRIP)
    key = fresh(40 + ahead)
    r = chain.deliver_one(claim(key, timeout_height=chain.height + ahead))
    assert (r.code == 0) is ok, r.log
    if not ok:
        assert f"tx timed out at height {chain.height - 1}" in r.log
        assert chain.account(key) is None and pool_balance(chain) == DRIP


def test_a_refused_claim_names_the_new_key(chain: Chain) -> None:
    fund(chain, DRIP)
    key = fresh(50)
    msg = MsgClaimDrip(recipient=key.bech32)
    r = chain.deliver_one(sign(key, [msg], account_number=0, sequence=0, fee_amount=5))
    assert (r.codespace, r.code) == ("drip", 8) and key.bech32 in r.log, r.log
    assert "pays no fee" in r.log and chain.account(key) is None


def test_simulating_through_the_drip_ante_skips_signatures_for_any_tx(chain: Chain) -> None:
    """Wallets simulate before they sign: the estimate needs no valid signature, whether
    the tx is a new key's claim or an ordinary one (which the drip's ante hands to
    auth's with the same verify_sig)."""
    fund(chain, DRIP)
    key = fresh(60)
    signed = claim(key)
    unsigned = bytearray(signed)
    unsigned[-1] ^= 0xFF  # the signature is the TxRaw's last field
    assert chain.deliver_one(bytes(unsigned)).code != 0  # refused for real
    sim = chain.app.simulate(bytes(unsigned))
    assert sim.code == 0 and sim.gas_used > PER_BYTE * len(signed) + SIG, sim.log
    raw = chain.sign(FUNDER, [msg_send(FUNDER, key, 1)])
    bad = bytearray(raw)
    bad[-1] ^= 0xFF
    sim = chain.app.simulate(bytes(bad))
    assert sim.code == 0, sim.log
    assert chain.balance(key) == 0 and pool_balance(chain) == DRIP  # a simulation changes nothing
