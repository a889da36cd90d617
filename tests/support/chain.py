"""An App driven block by block: a fresh App on the devnet genesis, dev keys, signing, blocks.

Import from here in any test (``from tests.support.chain import ...``):

* ``CHAIN_ID``, ``GENESIS_TIME_NS``, ``FEE`` (what a default tx pays), ``VCN``.
* ``KEYS`` / ``ALICE``, ``BOB``, ``PLATFORM`` …: the funded devnet keys
  (``PLATFORM`` is the params authority).
* ``test_key(i)``: extra deterministic keys; ``make_genesis(extra_accounts=n)``
  funds ``test_key(0..n-1)`` besides the dev accounts.
* ``new_app(path, genesis)``: an App in its own RocksDB folder after InitChain.
* ``run_block(app, txs, time_ns)``: FinalizeBlock + Commit of one block, as the
  solo node calls them; works on any App, so several Apps can be fed the same
  blocks.
* ``Chain``: a driver over one App that signs txs with the right account
  number and sequence, delivers them in blocks, reads balances and sequences
  (committed or pending) and can ``replay`` its blocks onto another App.
* ``msg_send``, ``sign``, ``assert_ok``, ``events_of``: small building blocks.

The pytest fixtures that wrap these live in ``tests/conftest.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from google.protobuf.message import Message

from app.app import App
from chain.coins import DENOM
from chain.context import BlockInfo
from chain.crypto import PrivateKey
from chain.events import Event
from chain.results import BlockResult, TxResult
from chain.tx.sign import sign_tx
from genesis.devnet import CHAIN_ID, DEV_ACCOUNTS, DEV_BALANCE, dev_key, genesis_doc
from modules.auth import state as auth_state
from modules.bank import state as bank_state
from modules.bank.msgs import MsgSend

# 2026-01-01T00:00:00Z, the devnet genesis_time
GENESIS_TIME_NS = 1_767_225_600 * 10**9
BLOCK_INTERVAL_NS = 10**9
GAS_PRICE = 1_000_000_000  # the default auth min_gas_price, avcn per gas
GAS_LIMIT = 200_000
FEE = GAS_LIMIT * GAS_PRICE  # what sign() pays by default
VCN = 10**18
TEST_ACCOUNTS = 64  # how many test_key(i) the conftest genesis funds

KEYS: dict[str, PrivateKey] = {name: dev_key(name) for name in DEV_ACCOUNTS}
PLATFORM = KEYS["platform"]
ALICE = KEYS["alice"]
BOB = KEYS["bob"]
FAUCET = KEYS["faucet"]


def test_key(i: int) -> PrivateKey:
    """Deterministic extra key number ``i`` (fund it with ``make_genesis``)."""
    return PrivateKey.from_seed(b"vcoin-test-account-%d" % i)


test_key.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def make_genesis(
    extra_accounts: int = 0, extra_balance: int = DEV_BALANCE, chain_id: str = CHAIN_ID
) -> dict[str, Any]:
    """The devnet genesis doc, plus ``test_key(0..extra_accounts-1)`` funded."""
    extra = {test_key(i).bech32: extra_balance for i in range(extra_accounts)}
    return genesis_doc(chain_id=chain_id, extra_balances=extra)


def new_app(path: str | Path, genesis: dict[str, Any] | None = None, **app_kw: Any) -> App:
    """A fresh App in ``path`` (its own RocksDB) after InitChain with ``genesis``."""
    doc = genesis if genesis is not None else make_genesis()
    app = App(path, **app_kw)
    app.init_chain(doc["chain_id"], doc["app_state"], GENESIS_TIME_NS, int(doc["initial_height"]))
    return app


def block_hash(height: int, txs: Sequence[bytes]) -> bytes:
    """A stand-in block hash that depends on the block's content, as a real one does."""
    h = hashlib.sha256(height.to_bytes(8, "big"))
    for t in txs:
        h.update(hashlib.sha256(t).digest())
    return h.digest()


def run_block(
    app: App, txs: Sequence[bytes], time_ns: int | None = None, hash_: bytes | None = None
) -> BlockResult:
    """FinalizeBlock + Commit of the next block; time defaults to one interval after
    the last, the hash to one of the height and txs (``hash_``: that header's hash,
    to run other txs under the same header)."""
    height = app.info().last_block_height + 1
    t = app.last_block_time_ns + BLOCK_INTERVAL_NS if time_ns is None else time_ns
    h = block_hash(height, txs) if hash_ is None else hash_
    block = BlockInfo(app.chain_id, height, t, h)
    result = app.finalize_block(block, list(txs))
    app.commit()
    return result


def msg_send(
    sender: PrivateKey | str, recipient: PrivateKey | str, amount: int | str, denom: str = DENOM
) -> Message:
    """A bank MsgSend; ``amount`` may be a string to build malformed amounts."""
    frm = sender if isinstance(sender, str) else sender.bech32
    to = recipient if isinstance(recipient, str) else recipient.bech32
    msg: Message = MsgSend(
        from_address=frm, to_address=to, amount=[Coin(denom=denom, amount=str(amount))]
    )
    return msg


def sign(
    key: PrivateKey,
    msgs: Sequence[Message],
    *,
    account_number: int,
    sequence: int,
    chain_id: str = CHAIN_ID,
    **kw: Any,
) -> bytes:
    """``chain.tx.sign.sign_tx`` with the devnet chain id as default."""
    return sign_tx(
        key, msgs, chain_id=chain_id, account_number=account_number, sequence=sequence, **kw
    )


def assert_ok(r: TxResult) -> TxResult:
    assert r.code == 0, f"tx failed: {r.codespace}/{r.code} {r.log}"
    return r


def events_of(r: TxResult | BlockResult, type_: str) -> list[Event]:
    evs = r.events if isinstance(r, TxResult) else [e for t in r.tx_results for e in t.events]
    return [e for e in evs if e.type == type_]


class Chain:
    """A test driver over one App, doing what a wallet plus the solo node do.

    ``sign`` fills in the signer's account number and next sequence. The next
    sequence is counted locally from the last commit, so a test can sign
    several txs of one sender before a block; the count restarts from state
    at every ``block``. Pass ``sequence=`` (or ``count=False``) to build a tx
    that must not use up a sequence number, such as a deliberately bad one.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self._next_seq: dict[bytes, int] = {}
        # every block delivered, as (txs, time_ns), so ``replay`` can rebuild the state
        self.history: list[tuple[list[bytes], int]] = []

    # -- reads -------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.app.info().last_block_height

    @property
    def app_hash(self) -> bytes:
        return self.app.info().last_block_app_hash

    def account(self, who: PrivateKey | bytes, pending: bool = False) -> auth_state.Account | None:
        """The committed account (``pending``: as CheckTx sees it now)."""
        ctx = self.app.check_ctx() if pending else self.app.query_ctx()
        return auth_state.get_account(ctx, _addr(who))

    def account_number(self, who: PrivateKey | bytes) -> int:
        acc = self.account(who)
        assert acc is not None, "account does not exist yet"
        return acc.number

    def sequence(self, who: PrivateKey | bytes, pending: bool = False) -> int:
        acc = self.account(who, pending)
        return 0 if acc is None else acc.sequence

    def balance(self, who: PrivateKey | bytes, denom: str = DENOM, pending: bool = False) -> int:
        ctx = self.app.check_ctx() if pending else self.app.query_ctx()
        return bank_state.balance(ctx, _addr(who), denom)

    # -- txs ---------------------------------------------------------------
    def sign(
        self,
        key: PrivateKey,
        msgs: Sequence[Message],
        *,
        sequence: int | None = None,
        account_number: int | None = None,
        count: bool = True,
        **kw: Any,
    ) -> bytes:
        """Sign ``msgs`` as ``key``; extra keywords go to ``sign_tx`` (gas_limit, memo, …)."""
        addr = key.address
        if sequence is None:
            sequence = self._next_seq.get(addr, self.sequence(addr))
            if count:
                self._next_seq[addr] = sequence + 1
        if account_number is None:
            account_number = self.account_number(addr)
        return sign(key, msgs, account_number=account_number, sequence=sequence, **kw)

    def send(
        self, key: PrivateKey, recipient: PrivateKey | str, amount: int | str, **kw: Any
    ) -> bytes:
        """A signed MsgSend of ``amount`` avcn from ``key`` to ``recipient``."""
        return self.sign(key, [msg_send(key, recipient, amount)], **kw)

    def check(self, raw: bytes) -> TxResult:
        return self.app.check_tx(raw)

    def block(self, txs: Sequence[bytes], time_ns: int | None = None) -> BlockResult:
        """Deliver ``txs`` in the next block and commit it."""
        t = self.app.last_block_time_ns + BLOCK_INTERVAL_NS if time_ns is None else time_ns
        result = run_block(self.app, txs, t)
        self.history.append((list(txs), t))
        self._next_seq.clear()
        return result

    def replay(self, app: App) -> None:
        """Feed another App (same genesis) every block this chain has delivered."""
        for txs, t in self.history:
            run_block(app, txs, t)

    def deliver_one(self, raw: bytes) -> TxResult:
        """Deliver one tx in its own block; return its result."""
        return self.block([raw]).tx_results[0]


def _addr(who: PrivateKey | bytes) -> bytes:
    return who if isinstance(who, bytes) else who.address


def block_events(blocks: Sequence[BlockResult], type_: str) -> list[dict[str, str]]:
    """The attributes of every ``type_`` event of ``blocks``: their own events (begin and
    end block) and their txs', in order."""
    return [
        dict(e.attributes)
        for b in blocks
        for e in list(b.events) + [e for t in b.tx_results for e in t.events]
        if e.type == type_
    ]
