"""Determinism and conservation: same blocks, same app hashes; sends never create coins.

Two Apps with separate RocksDB folders are fed the same 200 random blocks
(random sends among many accounts, some failing, random block times) and must
agree on every app hash; an App fed one different tx must not. A hypothesis
state machine runs random sends against a model of every balance.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from app.app import App
from chain.coins import DENOM
from chain.crypto import PrivateKey, module_address
from chain.tx.sign import sign_tx
from genesis.devnet import CHAIN_ID, DEV_BALANCE
from modules.auth import state as auth_state
from modules.bank import state as bank_state
from tests.chain.test_proofs import reference_app_hash
from tests.support.chain import (
    FEE,
    GENESIS_TIME_NS,
    KEYS,
    TEST_ACCOUNTS,
    make_genesis,
    msg_send,
    new_app,
    run_block,
    test_key,
)

N_SENDERS = 40  # of the TEST_ACCOUNTS funded test keys
BLOCKS = 200


def _acct(app: App, key: PrivateKey) -> auth_state.Account | None:
    return auth_state.get_account(app.query_ctx(), key.address)


@dataclass
class Counts:
    ok: int = 0
    failed: int = 0
    new_accounts: int = 0


class RandomBlocks:
    """Makes random blocks of sends signed against the state of a reference App."""

    def __init__(self, ref: App, seed: int) -> None:
        self.ref = ref
        self.rng = random.Random(seed)
        self.senders = [test_key(i) for i in range(N_SENDERS)] + list(KEYS.values())
        self.fresh = [PrivateKey.from_seed(b"determinism fresh %d" % i) for i in range(30)]
        self.time_ns = GENESIS_TIME_NS

    def next_block(self) -> tuple[list[bytes], int]:
        rng = self.rng
        next_seq: dict[bytes, int] = {}
        txs = []
        for _ in range(rng.choice([0, 1, 3, 8, 12, 20])):
            key = rng.choice(self.senders + self.fresh[:10])
            acc = _acct(self.ref, key)
            number = acc.number if acc else 0
            seq = next_seq.get(key.address, acc.sequence if acc else 0)
            to = rng.choice(self.senders + self.fresh).bech32
            have = bank_state.balance(self.ref.query_ctx(), key.address, DENOM)
            roll = rng.random()
            if roll < 0.08:
                amount = have + rng.randint(1, 10**20)  # more than it has: the message fails
            elif roll < 0.12:
                seq += rng.randint(1, 3)  # a sequence gap: refused in the ante
            elif roll < 0.15:
                number += 1  # signed for another account number: bad signature
            amount = rng.randint(1, max(1, have // 50)) if roll >= 0.08 else amount
            fee = FEE * rng.choice([1, 1, 1, 2])
            raw = sign_tx(
                key,
                [msg_send(key, to, amount)],
                chain_id=CHAIN_ID,
                account_number=number,
                sequence=seq,
                fee_amount=fee,
            )
            if roll >= 0.12:
                next_seq[key.address] = seq + 1
            txs.append(raw)
        self.time_ns += rng.randint(1, 6 * 10**9)
        return txs, self.time_ns


def test_two_apps_agree_on_every_app_hash_and_a_changed_tx_diverges(
    make_app: Callable[..., App],
) -> None:
    a, c = make_app(), make_app()
    b_path = Path(tempfile.mkdtemp(prefix="vcoin-det-"))
    b = new_app(b_path, make_genesis(TEST_ACCOUNTS))
    counts = Counts()
    changed_at = BLOCKS // 2
    gen = RandomBlocks(a, seed=20260101)
    try:
        assert a.info() == b.info() == c.info()
        for height in range(1, BLOCKS + 1):
            txs, t = gen.next_block()
            ra = run_block(a, txs, t)
            rb = run_block(b, txs, t)
            assert ra.app_hash == rb.app_hash, f"apps disagree at height {height}"
            assert ra.tx_results == rb.tx_results, f"results differ at height {height}"
            assert a.info() == b.info()
            c_txs = list(txs)
            if height == changed_at:
                c_txs.append(gen_one_more(a))
            rc = run_block(c, c_txs, t)
            if height < changed_at:
                assert rc.app_hash == ra.app_hash
            elif height == changed_at:
                assert rc.app_hash != ra.app_hash, "a different tx must change the app hash"
            for r in ra.tx_results:
                counts.ok += r.code == 0
                counts.failed += r.code != 0
            if height == BLOCKS // 3:
                # a restart in the middle changes nothing
                b.close()
                b = App(b_path)
                assert b.info() == a.info()
        assert c.info().last_block_app_hash != a.info().last_block_app_hash
        assert a.export_genesis() == b.export_genesis()
        assert a.info().last_block_app_hash == reference_app_hash(a)
        assert a.check_invariants() == []
        counts.new_accounts = sum(_acct(a, k) is not None for k in gen.fresh)
        # the run exercised what it claims to: successes, failures, new accounts
        assert counts.ok > 600 and counts.failed > 100 and counts.new_accounts > 10, counts
    finally:
        b.close()
        shutil.rmtree(b_path, ignore_errors=True)


def gen_one_more(app: App) -> bytes:
    """One extra valid send, from an account the random blocks never use."""
    key = KEYS["faucet"]
    gen_key = PrivateKey.from_seed(b"only in C")
    acc = _acct(app, key)
    assert acc is not None
    return sign_tx(
        key,
        [msg_send(key, gen_key, 1)],
        chain_id=CHAIN_ID,
        account_number=acc.number,
        sequence=acc.sequence,
    )


# -- conservation against a model -------------------------------------------------

FEE_COLLECTOR = module_address("fee_collector")


class SendMachine(RuleBasedStateMachine):
    """Random sends in random blocks; a plain model predicts every outcome and balance."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="vcoin-sim-"))
        self.rich = [test_key(i) for i in range(4)]
        self.poor = [PrivateKey.from_seed(b"sim poor %d" % i) for i in range(3)]
        self.keys = self.rich + self.poor
        self.app = new_app(self.dir, make_genesis(len(self.rich)))
        ctx = self.app.query_ctx()
        self.supply = bank_state.supply(ctx, DENOM)
        self.bal = {k.address: bank_state.balance(ctx, k.address, DENOM) for k in self.keys}
        self.bal[FEE_COLLECTOR] = 0
        self.seq = {k.address: 0 for k in self.keys}
        self.exists = {k.address for k in self.rich}
        self.pending: list[tuple[PrivateKey, PrivateKey, int, int, int]] = []
        self.signed_seq: dict[bytes, int] = {}

    @initialize()
    def start(self) -> None:
        assert self.supply > 0

    @rule(
        s=st.integers(0, 6),
        r=st.integers(0, 6),
        amount=st.one_of(
            st.integers(0, 10**15),
            st.integers(DEV_BALANCE // 2, DEV_BALANCE * 2),
            st.just(1),
        ),
        seq_skew=st.sampled_from([0, 0, 0, 0, 1, -1]),
        fee_mult=st.sampled_from([1, 1, 3]),
    )
    def send(self, s: int, r: int, amount: int, seq_skew: int, fee_mult: int) -> None:
        sender, recipient = self.keys[s], self.keys[r]
        seq = self.signed_seq.get(sender.address, self.seq[sender.address]) + seq_skew
        if seq < 0:
            return
        if seq_skew == 0:
            self.signed_seq[sender.address] = seq + 1
        self.pending.append((sender, recipient, amount, seq, FEE * fee_mult))

    @rule(dt=st.integers(1, 10**10))
    def block(self, dt: int) -> None:
        txs = []
        numbered = []
        for sender, recipient, amount, seq, fee in self.pending:
            # an account made earlier in this same block has no number yet for the
            # wallet, which signs for number 0 as a guess
            acc = _acct(self.app, sender)
            numbered.append(acc is not None)
            raw = sign_tx(
                sender,
                [msg_send(sender, recipient, amount)],
                chain_id=CHAIN_ID,
                account_number=acc.number if acc else 0,
                sequence=seq,
                fee_amount=fee,
            )
            txs.append(raw)
        res = run_block(self.app, txs, self.app.last_block_time_ns + dt)
        for (sender, recipient, amount, seq, fee), known, r in zip(
            self.pending, numbered, res.tx_results, strict=True
        ):
            want = self._predict(sender.address, recipient.address, amount, seq, fee, known)
            assert (r.codespace, r.code) == want, (r.log, want)
        self.pending = []
        self.signed_seq = {}

    def _predict(
        self, s: bytes, r: bytes, amount: int, seq: int, fee: int, number_known: bool
    ) -> tuple[str, int]:
        # the ante's checks (account, sequence, signature, fee) come before the
        # message's own (a zero amount): content is checked only for a tx that can pay
        if s not in self.exists:
            return ("sdk", 9)
        if seq != self.seq[s]:
            return ("sdk", 32)
        if not number_known:
            return ("sdk", 4)
        if self.bal[s] < fee:
            return ("sdk", 5)
        if amount == 0:
            return ("sdk", 10)
        self.bal[s] -= fee
        self.bal[FEE_COLLECTOR] += fee
        self.seq[s] += 1
        if self.bal[s] < amount:
            return ("sdk", 5)
        self.bal[s] -= amount
        self.bal[r] += amount
        self.exists.add(r)
        return ("", 0)

    @invariant()
    def balances_match_model_and_supply_is_constant(self) -> None:
        ctx = self.app.query_ctx()
        for addr, want in self.bal.items():
            assert bank_state.balance(ctx, addr, DENOM) == want
        assert bank_state.supply(ctx, DENOM) == self.supply
        total = 0
        for _, denom, n in bank_state.all_balances(ctx):
            assert n > 0, "balances are positive or absent"
            total += n if denom == DENOM else 0
        assert total == self.supply
        assert self.app.check_invariants() == []

    def teardown(self) -> None:
        self.app.close()
        shutil.rmtree(self.dir, ignore_errors=True)


SendMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_random_sends_conserve_supply = SendMachine.TestCase


@pytest.mark.slow
class TestRandomSendsLonger(SendMachine.TestCase):  # type: ignore[misc,valid-type]
    """The same simulation, longer: more examples and longer runs (a few minutes at most)."""

    settings = settings(max_examples=300, stateful_step_count=80, deadline=None)
