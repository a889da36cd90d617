"""Run one Ethereum tx inside a VCoin block: py-evm's Cancun rules over the chain store.

    decode (txs.py: size, envelope, RLP, signature, chain id)
    → checks against state, each refused with its own error and no trace:
      nonce, base fee, gas ≤ block gas limit, balance ≥ value + gas × max fee
    → py-evm: buy gas, bump the nonce, run the message, refund, pay the tip
    → the tx's branch is written; its result, logs and events returned

A tx that runs and fails (revert, out of gas, a refused precompile call)
keeps only the gas purchase and the nonce, as on Ethereum; a refused one keeps
nothing. Nothing here raises: the caller gets a TxResult.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth._utils.address import generate_contract_address
from eth.abc import (
    ComputationAPI,
    MessageAPI,
    SignedTransactionAPI,
    StateAPI,
    TransactionContextAPI,
)
from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS
from eth.exceptions import Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState, CancunTransactionExecutor
from eth.vm.message import Message
from eth_abi.abi import decode as abi_decode
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from eth_utils.exceptions import ValidationError
from eth_utils.logging import get_extended_debug_logger

from chain.context import Ctx, Mode
from chain.errors import ChainError
from chain.events import Event
from chain.results import TxResult, short_log
from modules.evm import events, precompiles, state, tracing
from modules.evm.errors import (
    ErrEthFee,
    ErrEthFunds,
    ErrEthGas,
    ErrEthInvalid,
    ErrEthNonce,
    ErrExecutionFailed,
    ErrExecutionReverted,
)
from modules.evm.interpreter import FastStack, extend_memory, fast_opcodes, run_opcodes
from modules.evm.statedb import ChainAccountDB, EvmBackend, ModuleAccountCredit
from modules.evm.txs import ETH_TX_URL, EthTx

log = logging.getLogger("vcoin.evm")
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


def hexaddr(addr: bytes) -> str:
    return "0x" + addr.hex()


# BaseComputation's cached ``stack_<name>`` properties (bound methods of its stack)
_STACK_SHORTCUTS = (
    "pop_ints",
    "pop_bytes",
    "pop_any",
    "pop1_int",
    "pop1_bytes",
    "pop1_any",
    "push_int",
    "push_bytes",
)


class VCoinComputation(CancunComputation):
    """Cancun's computation with VCoin's bridges to the native modules
    (modules/evm/precompiles.py) and no value sent to module accounts."""

    _precompiles = {**CancunComputation.get_precompiles(), **precompiles.precompiles()}
    opcodes = tracing.with_selfdestruct(fast_opcodes(CancunComputation.opcodes))

    @classmethod
    def apply_message(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        if message.should_transfer_value and message.value:
            adb = state._account_db  # type: ignore[attr-defined]
            if isinstance(adb, ChainAccountDB) and message.storage_address in adb.backend.blocked:
                raise ModuleAccountCredit(
                    f"{hexaddr(message.storage_address)} is a module account: "
                    "the EVM cannot send it coins"
                )
        return super().apply_message(state, message, transaction_context, parent_computation)

    def __init__(
        self,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
    ) -> None:
        super().__init__(state, message, transaction_context)
        stack = self._stack = FastStack()
        # py-evm's stack_* shortcuts are cached_property: each first use per computation
        # costs a descriptor call and an is-coroutine check (~3 µs of an eth_call); bound
        # here at once, they are the same methods
        d = self.__dict__
        for name in _STACK_SHORTCUTS:
            d["stack_" + name] = getattr(stack, name)

    def extend_memory(self, start_position: int, size: int) -> None:
        """py-evm's, without its checks and debug line where memory need not grow
        (modules/evm/interpreter.py)."""
        if not extend_memory(self, start_position, size):
            super().extend_memory(start_position, size)

    @classmethod
    def apply_computation(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        """py-evm's ``apply_computation`` with the faster opcode loop
        (modules/evm/interpreter.py); the same steps, in the same order."""
        with cls(state, message, transaction_context) as computation:
            if computation.is_origin_computation:
                computation.contracts_created = []
                if message.is_create:
                    cls.consume_initcode_gas_cost(computation)
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
                tracing.mark(computation, parent_computation)  # for call traces
            if message.is_create:
                computation.contracts_created.append(message.storage_address)
            precompile = computation.precompiles.get(message.code_address)
            if precompile is not None:
                if not message.is_delegation:
                    precompile(computation)
                return computation
            run_opcodes(computation)
        return computation


class VCoinTransactionExecutor(CancunTransactionExecutor):
    """Cancun's steps for a tx, less two kinds of work that change nothing here:

    * checks already made: ``txs.decode`` ran the tx's own ``validate()`` and
      the EIP-2 check, and ``precheck`` checked the nonce, the base fee, the gas
      limit and the balance (against max fee, as Cancun does) on this very state;
    * py-evm's debug lines: they are built whether logged or not, and the one
      of ``build_evm_message`` hex-encodes the whole code of the called contract
      and the tx's repr on every tx (about a tenth of an ERC-20 transfer).
    ``build_evm_message`` is Cancun's otherwise (blob txs never get here)."""

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        return None

    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        st = self.vm_state
        sender = transaction.sender
        st.delta_balance(sender, -(transaction.gas * st.get_gas_price(transaction)))
        st.increment_nonce(sender)
        if transaction.to == CREATE_CONTRACT_ADDRESS:
            created = generate_contract_address(sender, st.get_nonce(sender) - 1)
            data, code = b"", transaction.data
        else:
            created, data, code = None, transaction.data, st.get_code(transaction.to)
        return Message(
            gas=transaction.gas - transaction.intrinsic_gas,
            to=transaction.to,
            sender=sender,
            value=transaction.value,
            data=data,
            code=code,
            create_address=created,  # type: ignore[arg-type]
        )


class VCoinState(CancunState):
    computation_class = VCoinComputation
    account_db_class = ChainAccountDB
    transaction_executor_class = VCoinTransactionExecutor
    # py-evm's is a property that looks the logger up on every use
    logger = get_extended_debug_logger("eth.vm.state.VCoinState")

    def set_system_contracts(self) -> None:
        # no beacon chain: EIP-4788's beacon roots contract is not installed
        pass

    @property
    def account_db(self) -> ChainAccountDB:
        adb = self._account_db
        assert isinstance(adb, ChainAccountDB)
        return adb


@dataclass(frozen=True)
class Outcome:
    """What running a tx (or a call) gave: the computation and the gas it used."""

    computation: ComputationAPI
    gas_used: int
    ctx: Ctx  # the branch with its writes (written by the caller or thrown away)


def execution_context(ctx: Ctx, coinbase: bytes, base_fee: int) -> ExecutionContext:
    p = state.get_params(ctx)
    mix = ctx.block.hash or keccak(
        ctx.block.chain_id.encode() + ctx.block.height.to_bytes(8, "big")
    )
    return ExecutionContext(
        coinbase=Address(coinbase),
        timestamp=ctx.block.time_s,
        block_number=ctx.block.height,  # type: ignore[arg-type]
        difficulty=0,
        mix_hash=Hash32(mix),
        gas_limit=p.block_gas_limit,
        prev_hashes=state.ancestor_hashes(ctx),  # type: ignore[arg-type]
        chain_id=p.chain_id,
        base_fee_per_gas=base_fee,
        excess_blob_gas=0,
    )


def revert_reason(output: bytes) -> str:
    """The message of an ``Error(string)`` revert, else the data in hex."""
    if output[:4] == ERROR_SELECTOR:
        try:
            (msg,) = abi_decode(["string"], output[4:])
            return str(msg)
        except Exception:  # noqa: BLE001 - undecodable revert data is shown raw
            pass
    return "0x" + output.hex() if output else ""


def gas_used_of(tx_gas: int, computation: ComputationAPI) -> int:
    """London's rule: gas consumed less the refund, the refund at most a fifth."""
    consumed = tx_gas - computation.get_gas_remaining()
    return consumed - min(computation.get_gas_refund(), consumed // 5)


def precheck(ctx: Ctx, etx: EthTx, backend: EvmBackend, base_fee: int) -> None:
    """The state checks before execution, with errors that say what to do."""
    p = state.get_params(ctx)
    if etx.gas > p.block_gas_limit:
        raise ErrEthGas(f"gas limit {etx.gas} is over the block gas limit {p.block_gas_limit}")
    if ctx.mode is Mode.DELIVER:
        used = state.block_gas(ctx)
        if used + etx.gas > p.block_gas_limit:
            raise ErrEthGas(
                f"the block is full: its txs used {used} of {p.block_gas_limit} gas and this "
                f"one reserves {etx.gas}; send it again for a later block"
            )
    if etx.to in backend.blocked:
        raise ErrEthInvalid(
            f"{hexaddr(etx.to)} is a module account: it cannot receive transactions"
        )
    want = backend.accounts.sequence(ctx, etx.sender)
    if etx.nonce != want:
        what = "was already used" if etx.nonce < want else "leaves a gap"
        raise ErrEthNonce(
            f"nonce {etx.nonce} {what}: the next nonce of {hexaddr(etx.sender)} is {want}"
        )
    if etx.max_fee < base_fee:
        raise ErrEthFee(
            f"max fee per gas {etx.max_fee} is below the base fee {base_fee}: "
            "raise the fee (eth_gasPrice tells the current one)"
        )
    value = int(etx.tx.value)
    need = value + etx.gas * etx.max_fee
    have = backend.bank.balance(ctx, etx.sender, "avcn")
    if have < need:
        raise ErrEthFunds(
            f"{hexaddr(etx.sender)} has {have}avcn; value + gas × max fee needs {need}avcn"
        )


def run_tx(ctx: Ctx, etx: EthTx, backend: EvmBackend, base_fee: int) -> Outcome:
    """py-evm on a branch of ``ctx``; raises ChainError when py-evm refuses the tx."""
    vm_state = VCoinState(
        backend,  # type: ignore[arg-type]  # py-evm's db: read by ChainAccountDB
        execution_context(ctx, backend.coinbase, base_fee),
        BLANK_ROOT_HASH,
    )
    vm_state.lock_changes()
    try:
        computation = vm_state.apply_transaction(etx.tx)
    except ValidationError as e:
        raise ErrEthInvalid(f"refused by the EVM: {str(e)[:300]}") from e
    branch = vm_state.account_db.finish()
    return Outcome(computation, gas_used_of(etx.gas, computation), branch)


def run_call(
    ctx: Ctx,
    backend: EvmBackend,
    sender: bytes,
    to: bytes | None,
    data: bytes,
    value: int,
    gas: int,
) -> Outcome:
    """A message without a signed tx (eth_call, eth_estimateGas, the CLI's reads):
    no gas bought, no nonce; the caller throws the branch away."""
    vm_state = VCoinState(
        backend,  # type: ignore[arg-type]
        execution_context(ctx, backend.coinbase, 0),
        BLANK_ROOT_HASH,
    )
    vm_state.lock_changes()
    tx_ctx = vm_state.get_transaction_context_class()(gas_price=0, origin=Address(sender))
    create = to is None or to == b""
    target = (
        generate_contract_address(Address(sender), vm_state.get_nonce(Address(sender)))
        if create
        else Address(to)  # type: ignore[arg-type]
    )
    msg = Message(
        gas=gas,
        to=Address(b"") if create else target,
        sender=Address(sender),
        value=value,
        data=b"" if create else data,
        code=data if create else vm_state.get_code(target),
        create_address=target if create else None,  # type: ignore[arg-type]
    )
    for a in (sender, target):
        vm_state.mark_address_warm(Address(a))
    comp_cls = vm_state.computation_class
    if create:
        computation = comp_cls.apply_create_message(vm_state, msg, tx_ctx)
    else:
        computation = comp_cls.apply_message(vm_state, msg, tx_ctx)
    branch = vm_state.account_db.finish()
    return Outcome(computation, gas - computation.get_gas_remaining(), branch)


def tx_result(etx: EthTx, out: Outcome, base_fee: int) -> TxResult:
    """The TxResult of a tx that ran: its events carry what an Ethereum receipt shows."""
    c = out.computation
    tip = min(etx.max_priority_fee, etx.max_fee - base_fee)
    price = base_fee + tip
    contract = b""
    if not etx.to and c.is_success:
        contract = bytes(c.msg.storage_address)
    attrs: list[tuple[str, str]] = [
        ("hash", "0x" + etx.hash.hex()),
        ("from", hexaddr(etx.sender)),
        ("to", hexaddr(etx.to) if etx.to else ""),
        ("contract", hexaddr(contract) if contract else ""),
        ("nonce", str(etx.nonce)),
        ("type", str(etx.type_id)),
        ("value", str(int(etx.tx.value))),
        ("gas_limit", str(etx.gas)),
        ("gas_used", str(out.gas_used)),
        ("effective_gas_price", str(price)),
        ("base_fee_burned", str(out.gas_used * base_fee)),
        ("tip_paid", str(out.gas_used * tip)),
        ("status", "1" if c.is_success else "0"),
    ]
    evs: list[Event] = [events.message(ETH_TX_URL, etx.sender), events.ethereum_tx(attrs)]
    if c.is_success:
        evs.extend(out.ctx.events)
        for i, (addr, topics, data) in enumerate(c.get_log_entries()):
            evs.append(events.tx_log(bytes(addr), list(topics), bytes(data), i))
        return TxResult(
            data=bytes(c.output),
            gas_wanted=etx.gas,
            gas_used=out.gas_used,
            events=tuple(evs),
            sender=etx.sender,
            sequence=etx.nonce,
        )
    err = c.error
    if isinstance(err, Revert):
        reason = revert_reason(bytes(c.output))
        e: ChainError = ErrExecutionReverted(reason or "no reason given")
    else:
        e = ErrExecutionFailed(f"{type(err).__name__}: {str(err)[:300] or 'no detail'}")
    return TxResult(
        code=e.code,
        codespace=e.codespace,
        log=short_log(e.log()),
        data=bytes(c.output),
        gas_wanted=etx.gas,
        gas_used=out.gas_used,
        events=tuple(evs),
        sender=etx.sender,
        sequence=etx.nonce,
    )
