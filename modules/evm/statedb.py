"""py-evm's account database over the chain store: the one place the EVM reads
and writes state.

py-evm keeps accounts in a Merkle-Patricia trie and journals every write so a
failed call frame can be undone. Here there is no trie and no per-tx state
root: the EVM reads and writes the chain's own stores, and its journal is a
stack of store branches (``Ctx.branch``):

* ``record()`` opens a branch over the top one; ``commit(cp)`` writes the
  branches above ``cp`` down into the one below; ``discard(cp)`` drops them.
  A precompile (modules/evm/precompiles.py) runs the native modules on the top
  branch, so a revert after it undoes its writes and its events with the rest.
* a balance is the bank's ``avcn`` balance (1 wei = 1 avcn) and a nonce is the
  auth account's sequence: one account space for Cosmos and Ethereum txs. A
  balance set by the EVM moves the bank's supply with it
  (``BankKeeper.adjust_balance``), so the burned base fee leaves the supply
  and everything else balances out.
* code, contract storage and the rest live in the evm module's store
  (modules/evm/keys.py), under the app hash like every module's state.

Warm addresses and slots (EIP-2929) are kept in memory for the tx, journaled
by an undo log so a reverted frame forgets what it warmed.
"""

from __future__ import annotations

from typing import Any

from eth.abc import AccountDatabaseAPI, MetaWitnessAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.journal import get_next_checkpoint
from eth.exceptions import VMError
from eth.typing import JournalDBCheckpoint
from eth_hash.auto import keccak
from eth_typing import Address, Hash32

from chain.coins import DENOM
from chain.context import Ctx
from modules.evm import state
from modules.evm.expected import AccountKeeper, BankKeeper


class ModuleAccountCredit(VMError):
    """The EVM tried to credit a module account (escrow, staking, treasury, …)
    outside its module's rules; the frame that did it fails."""


class EvmBackend:
    """What one tx's account database works over: the tx's store branch, the
    keepers it reaches through, and the addresses the EVM may not credit."""

    def __init__(
        self,
        ctx: Ctx,
        bank: BankKeeper,
        accounts: AccountKeeper,
        blocked: frozenset[bytes],
        coinbase: bytes,
        bridge: Any = None,
    ) -> None:
        self.ctx = ctx
        self.bank = bank
        self.accounts = accounts
        self.blocked = blocked
        self.coinbase = coinbase
        self.bridge = bridge  # modules/evm/precompiles.Bridge: what the precompiles reach


class ChainAccountDB(AccountDatabaseAPI):
    """py-evm's AccountDatabaseAPI over an ``EvmBackend`` (passed as py-evm's ``db``)."""

    def __init__(self, db: Any, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        if not isinstance(db, EvmBackend):
            raise TypeError("ChainAccountDB works over an EvmBackend")
        self.backend = db
        self.base = db.ctx  # the store as the tx found it: original storage values
        # layers[0] is the tx's own branch; record() pushes, discard/commit pop
        self.layers: list[Ctx] = [db.ctx.branch()]
        self._checkpoints: dict[int, int] = {}
        self._warm: set[bytes] = set()
        self._warm_log: list[bytes] = []
        self._warm_marks: dict[int, int] = {}

    # -- the journal ---------------------------------------------------------
    @property
    def top(self) -> Ctx:
        """The branch the EVM writes to now; precompiles run native code on it."""
        return self.layers[-1]

    def record(self) -> JournalDBCheckpoint:
        # py-evm's own counter: transient storage journals under the same ids
        cp = get_next_checkpoint()
        self._checkpoints[cp] = len(self.layers)
        self._warm_marks[cp] = len(self._warm_log)
        self.layers.append(self.top.branch())
        return cp

    def _depth(self, checkpoint: JournalDBCheckpoint) -> int:
        depth = self._checkpoints.pop(checkpoint, None)
        if depth is None or depth >= len(self.layers):
            raise ValueError(f"unknown or closed checkpoint {checkpoint}")
        return depth

    def discard(self, checkpoint: JournalDBCheckpoint) -> None:
        depth = self._depth(checkpoint)
        del self.layers[depth:]
        mark = self._warm_marks.pop(checkpoint)
        for k in self._warm_log[mark:]:
            self._warm.discard(k)
        del self._warm_log[mark:]
        self._forget_after(depth)

    def commit(self, checkpoint: JournalDBCheckpoint) -> None:
        depth = self._depth(checkpoint)
        while len(self.layers) > depth:
            child = self.layers.pop()
            child.commit_into(self.layers[-1])
        self._warm_marks.pop(checkpoint, None)
        self._forget_after(depth)

    def _forget_after(self, depth: int) -> None:
        for cp in [c for c, d in self._checkpoints.items() if d >= depth]:
            del self._checkpoints[cp]
            self._warm_marks.pop(cp, None)

    def lock_changes(self) -> None:
        self._warm.clear()
        self._warm_log.clear()

    def finish(self) -> Ctx:
        """The tx's branch with every open frame folded in (none should be open)."""
        while len(self.layers) > 1:
            child = self.layers.pop()
            child.commit_into(self.layers[-1])
        self._checkpoints.clear()
        return self.layers[0]

    # -- state root: none per tx ----------------------------------------------
    @property
    def state_root(self) -> Hash32:
        return BLANK_ROOT_HASH

    @state_root.setter
    def state_root(self, value: Hash32) -> None:
        # py-evm's revert() sets the root it snapshotted, which is always ours
        if value != BLANK_ROOT_HASH:
            raise ValueError("this account database has no state root to set")

    def has_root(self, state_root: bytes) -> bool:
        return state_root == BLANK_ROOT_HASH

    def make_state_root(self) -> Hash32:
        return BLANK_ROOT_HASH

    def persist(self) -> MetaWitnessAPI:
        raise NotImplementedError("EVM writes reach the chain store through the tx's branch")

    # -- storage ---------------------------------------------------------------
    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        return state.storage_at(self.top if from_journal else self.base, address, slot)

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        state.set_storage(self.top, address, slot, value)

    def delete_storage(self, address: Address) -> None:
        state.delete_storage(self.top, address)

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return address + slot.to_bytes(32, "big") in self._warm

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        self._mark(address + slot.to_bytes(32, "big"))

    def _mark(self, k: bytes) -> None:
        if k not in self._warm:
            self._warm.add(k)
            self._warm_log.append(k)

    # -- balance: the bank's -----------------------------------------------------
    def get_balance(self, address: Address) -> int:
        return self.backend.bank.balance(self.top, address, DENOM)

    def set_balance(self, address: Address, balance: int) -> None:
        b = self.backend
        if address in b.blocked and address != b.coinbase:
            if balance > b.bank.balance(self.top, address, DENOM):
                raise ModuleAccountCredit(
                    f"0x{address.hex()} is a module account: the EVM cannot send it coins"
                )
        b.bank.adjust_balance(self.top, address, DENOM, balance)

    # -- nonce: the auth sequence ------------------------------------------------
    def get_nonce(self, address: Address) -> int:
        return self.backend.accounts.sequence(self.top, address)

    def set_nonce(self, address: Address, nonce: int) -> None:
        self.backend.accounts.set_sequence(self.top, address, nonce)

    def increment_nonce(self, address: Address) -> None:
        self.set_nonce(address, self.get_nonce(address) + 1)

    # -- code ----------------------------------------------------------------------
    def _code_record(self, address: Address) -> bytes | None:
        return state.code_record(self.top, address)

    def set_code(self, address: Address, code: bytes) -> None:
        if code:
            state.set_code(self.top, address, code, keccak(code))
        else:
            state.delete_code(self.top, address)

    def get_code(self, address: Address) -> bytes:
        rec = self._code_record(address)
        return b"" if rec is None else rec[32:]

    def get_code_hash(self, address: Address) -> Hash32:
        rec = self._code_record(address)
        if rec is not None:
            return Hash32(rec[:32])
        # EIP-1052: an account that does not exist has hash 0; one that exists, of b""
        return EMPTY_SHA3 if self.account_exists(address) else Hash32(b"\x00" * 32)

    def delete_code(self, address: Address) -> None:
        state.delete_code(self.top, address)

    # -- accounts ------------------------------------------------------------------
    def account_has_code_or_nonce(self, address: Address) -> bool:
        return self.get_nonce(address) != 0 or self._code_record(address) is not None

    def delete_account(self, address: Address) -> None:
        self.delete_storage(address)
        self.delete_code(address)
        b = self.backend
        b.bank.adjust_balance(self.top, address, DENOM, 0)
        b.accounts.remove_account(self.top, address)

    def account_exists(self, address: Address) -> bool:
        return (
            self.backend.accounts.account_exists(self.top, address)
            or self._code_record(address) is not None
            or self.get_balance(address) != 0
        )

    def touch_account(self, address: Address) -> None:
        pass  # nothing to write: existence follows from balance, nonce and code

    def account_is_empty(self, address: Address) -> bool:
        return not self.account_has_code_or_nonce(address) and self.get_balance(address) == 0

    def is_address_warm(self, address: Address) -> bool:
        return address in self._warm

    def mark_address_warm(self, address: Address) -> None:
        self._mark(address)
