"""A job posted from Solidity, end to end, every part a real process: an Ethereum key
(eth_account, signing locally) calls ``JobMarket.post`` on a ``vcoind start`` node (1 s
blocks), the tx broadcast as raw bytes in its ``MsgEthereumTx`` envelope through the
node RPC's ``broadcast_tx_sync``; an unchanged ``vcoin-worker`` claims and runs the job
and a ``vcoin-oracle`` re-executes it (every result is picked for checking here); it
settles. What the poster, the worker and the chain must see:

* the post tx ran (``ethereum_tx`` status 1), returned the job id, and carries the jobs
  module's ``JobPosted`` (the 0x account as poster) and JobMarket's own Solidity
  ``JobPosted`` log (job id and poster indexed; task, model and max price in its data);
* the job is the one the worker sees: claimed, run, attested by the oracle (a quorum
  pass), settled; ``JobMarket.getJob`` (eth_call through the ``evm`` ``call`` query) reads
  it back settled, with its poster, worker and price;
* money, on balances read at one height before the post and one after the settlement:
  the poster's 0x account paid the EVM gas plus the price (escrow − refund) and nothing
  else; the worker got its payout (``payout_bps`` of the price) less the fees of its own
  Cosmos txs; 10 % of the price was burned: the supply fell by that plus the post's
  burned base fee; the treasury kept the rest of the price less the worker's payout;
* the App's invariants hold on the node's database after it stops.

Mint emission is off (``emission_per_epoch`` 0) so that no epoch reward moves the
worker's balance, the treasury or the supply in the middle of the accounting.
Canaries are off (``--no-canaries``): the only job is the posted one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak

from chain.crypto import module_address, to_bech32
from genesis.devnet import dev_key
from tests.e2e.evm_market import (
    EthUser,
    amount_of,
    balance_query,
    coin,
    eth_logs,
    fees_paid,
    snapshot,
)
from tests.e2e.market import (
    E2E_GENESIS,
    FLOOR,
    PRICE,
    VCN,
    invariants_after_stop,
    job_msg,
    market_of,
)
from tests.support.evm import JOBMARKET, W3, addr20, contract, eth_key
from tests.support.genesis import market_genesis

# every result is re-executed by the oracle before it settles
SAMPLE_ALL: dict[str, Any] = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
NO_EMISSION: dict[str, Any] = {"emission_per_epoch": "0"}
JOB_POSTED_SIG = keccak(b"JobPosted(uint64,address,string,string,uint256)")
TREASURY = to_bech32(module_address("treasury"))


def _word(n: int | bytes) -> str:
    """A 32-byte log topic as the ``tx_log`` event writes it."""
    b = n if isinstance(n, bytes) else n.to_bytes(32, "big")
    return "0x" + b.rjust(32, b"\0").hex()


@pytest.mark.slow
def test_a_job_posted_through_jobmarket_is_run_by_a_real_worker_and_settles(
    tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    genesis = market_genesis(**E2E_GENESIS, verification=SAMPLE_ALL, mint=NO_EMISSION)
    with market_of(tmp_path, genesis) as m:
        oracle = m.oracle("oracle1", "--no-canaries")
        worker = m.worker("worker1", models="tiny-lm")
        user = EthUser(m.client, eth_key(0))
        user.fund(10 * VCN)
        for d in (oracle, worker):
            d.start()
        params = m.client.query("jobs", "params")
        jm = contract("JobMarket", JOBMARKET)
        job = job_msg(0)  # a text generation on tiny-lm, its input inline
        req = (job.task_type, job.model, "", job.inline_input, job.spec, PRICE, 0, 0, 0)
        watched = {
            "poster": balance_query(user.bech32),
            "worker": balance_query(worker.address),
            "treasury": balance_query(TREASURY),
            "supply": ("bank", "total_supply", {}),
        }
        h1, before = snapshot(m.client, watched)

        # -- the post: an EIP-1559 call of JobMarket.post, signed here -----------------------
        resp = user.send(JOBMARKET, bytes.fromhex(jm.encode_abi("post", [req])[2:]))
        assert resp.ok, resp
        eth = {k: v[0] for k in ("status", "from", "to", "gas_used", "effective_gas_price",
                                 "base_fee_burned", "tip_paid")
               if (v := resp.attributes("ethereum_tx", k))}  # fmt: skip
        assert eth["status"] == "1", resp.events
        assert eth["from"].lower() == user.address.lower()
        assert eth["to"].lower() == JOBMARKET.lower()
        gas_fee = int(eth["gas_used"]) * int(eth["effective_gas_price"])
        assert gas_fee == int(eth["base_fee_burned"]) + int(eth["tip_paid"])
        (job_id_text,) = resp.attributes("JobPosted", "job_id")
        job_id = int(job_id_text)
        assert resp.attributes("JobPosted", "poster") == [user.bech32]
        assert W3.codec.decode(["uint64"], resp.data) == (job_id,)  # post's return value
        # JobMarket's own Solidity event, next to the jobs precompile's logs
        (mine,) = [lg for lg in eth_logs(resp) if lg["address"].lower() == JOBMARKET.lower()]
        assert mine["topics"].split(",") == [
            _word(JOB_POSTED_SIG),
            _word(job_id),
            _word(addr20(user.key)),
        ]
        data = bytes.fromhex(mine["data"][2:])
        assert W3.codec.decode(["string", "string", "uint256"], data) == (
            job.task_type,
            job.model,
            PRICE,
        )

        # -- the worker claims and runs it, the oracle checks it, it settles ----------------
        done = m.wait_state(job_id, ("settled", "rejected", "failed", "expired"), 300)
        h2, after = snapshot(m.client, watched)
        assert done["state"] == "settled", done
        assert done["poster"] == user.bech32 and done["worker"] == worker.address, done
        price = int(done["price"])
        assert price == FLOOR and int(done["max_price"]) == PRICE, done
        assert int(done["refunded"]) == PRICE - price and int(done["escrow"]) == 0, done
        events = m.job_events(job_id)
        kinds = [t for _, t, _ in events]
        for step in ("JobPosted", "JobClaimed", "ResultSubmitted", "VerificationRequested",
                     "Attested", "VerdictReached", "JobSettled"):  # fmt: skip
            assert step in kinds, (step, kinds)
        (attested,) = [a for _, t, a in events if t == "Attested"]
        assert attested["oracle"] == oracle.address and attested["verdict"] == "pass"
        (verdict,) = [a for _, t, a in events if t == "VerdictReached"]
        assert (verdict["verdict"], verdict["how"]) == ("pass", "quorum"), verdict

        def one(kind: str) -> dict[str, str]:
            (a,) = [a for _, t, a in events if t == kind]
            return a

        burned = coin(one("FeeBurned")["amount"])
        to_treasury = coin(one("TreasuryCredited")["amount"])
        paid = coin(one("WorkerPaid")["amount"])
        assert one("WorkerPaid")["worker"] == worker.address
        assert coin(one("EscrowRefunded")["amount"]) == PRICE - price
        assert one("EscrowRefunded")["poster"] == user.bech32

        # JobMarket reads the same job back (eth_call)
        view = user.read(jm, "getJob", job_id)
        assert view[0] == job_id and view[3] == "settled", view
        assert addr20(view[1]) == addr20(user.key)
        assert addr20(view[2]) == dev_key(worker.name).address
        assert (view[4], view[5], view[6], view[7]) == (job.task_type, job.model, PRICE, price)

        # -- money, at one height before the post (h1) and one after the settlement (h2) ----
        delta = {k: amount_of(after[k]) - amount_of(before[k]) for k in watched}
        assert burned * 10 == price and burned == price * int(params["burn_bps"]) // 10_000
        assert to_treasury == price - burned
        assert paid == price * int(params["payout_bps"]) // 10_000
        # the poster paid the gas and the price (its escrow less the refund), nothing else
        assert delta["poster"] == -(gas_fee + PRICE - int(done["refunded"])), (delta, eth)
        assert delta["poster"] == -(gas_fee + price)
        # the worker was paid, less the fees of its claim, result and heartbeats
        worker_fees = fees_paid(m.client, worker.address, h1 + 1, h2)
        assert worker_fees > 0
        assert delta["worker"] == paid - worker_fees, (delta, paid, worker_fees)
        # 10 % burned: out of the supply, with the post's base fee
        assert delta["supply"] == -(burned + int(eth["base_fee_burned"])), (delta, eth)
        # the rest of the price to the treasury, which paid the worker out of it
        assert delta["treasury"] == to_treasury - paid, (delta, to_treasury, paid)

        for d in (oracle, worker):
            assert d.stop() == 0, d.tail()
        assert m.node.stop() == 0
    assert invariants_after_stop(m.node.home) == []
    print(
        f"\njob {job_id} posted through JobMarket at height {resp.height}, settled by "
        f"height {h2} ({m.sandbox} sandbox); price {price} avcn, burned {burned}, worker "
        f"paid {paid}, poster's gas {gas_fee}; {time.monotonic() - t0:.0f}s in all"
    )
