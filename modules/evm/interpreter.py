"""A faster opcode loop and stack for py-evm, with the same results and gas.

Profiling an ERC-20 transfer (scripts/bench/evm_tps.py --profile) puts most of
the EVM's time in py-evm's interpreter: for each of its ~300 opcodes, the
opcode object's ``__call__`` charges its fixed gas through two layers
(``computation.consume_gas`` → ``GasMeter.consume_gas``) and the stack checks
the range of every value it is given. Here:

* ``run_opcodes`` charges a fixed-gas opcode's gas inline, with py-evm's own
  OutOfGas, and calls its logic directly; any other opcode (those whose gas
  py-evm works out in their logic, and invalid ones) runs as py-evm runs it;
* ``FastStack`` skips the range checks of values that py-evm's opcodes
  produce already in range (they mask to 256 bits and pad to 32 bytes).

tests/modules/evm/test_reference.py runs the same transactions here and on
py-evm's own state (eth-tester) and compares status and gas to the unit.
"""

from __future__ import annotations

from typing import Any

from eth.abc import ComputationAPI
from eth.exceptions import FullStack, Halt, OutOfGas
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.opcode import _FastOpcode
from eth.vm.stack import Stack, to_int

STACK_LIMIT = 1024
# opcode table (by identity) -> {opcode byte: (gas, logic, mnemonic)} of its fixed-gas opcodes
_FIXED: dict[int, tuple[Any, dict[int, tuple[int, Any, str]]]] = {}


class FastStack(Stack):
    """py-evm's stack without the range check on each push."""

    __slots__ = ()

    def push_int(self, value: int) -> None:
        if len(self.values) >= STACK_LIMIT:
            raise FullStack("Stack limit reached")
        self._append(value)

    def push_bytes(self, value: bytes) -> None:
        if len(self.values) >= STACK_LIMIT:
            raise FullStack("Stack limit reached")
        self._append(value)

    def pop_ints(self, num_items: int) -> tuple[int, ...]:
        return tuple([x if x.__class__ is int else to_int(x) for x in self.pop_any(num_items)])


def fixed_gas_table(opcodes: dict[int, Any]) -> dict[int, tuple[int, Any, str]]:
    """The fixed-gas opcodes of ``opcodes``: those py-evm made with ``as_opcode``."""
    hit = _FIXED.get(id(opcodes))
    if hit is not None and hit[0] is opcodes:
        return hit[1]
    table = {
        op: (fn.gas_cost, fn.logic_fn, fn.mnemonic)
        for op, fn in opcodes.items()
        if type(fn) is _FastOpcode
    }
    _FIXED[id(opcodes)] = (opcodes, table)
    return table


def run_opcodes(computation: ComputationAPI) -> None:
    """py-evm's opcode loop (``BaseComputation.apply_computation``) without its
    per-opcode call layers; raises what py-evm raises."""
    opcodes = computation.opcodes
    fixed = fixed_gas_table(opcodes)
    meter = computation._gas_meter
    get = fixed.get
    for opcode in computation.code:
        entry = get(opcode)
        if entry is not None:
            cost, logic, mnemonic = entry
            remaining = meter.gas_remaining
            if cost > remaining:
                raise OutOfGas(
                    f"Out of gas: Needed {cost} - Remaining {remaining} - Reason: {mnemonic}"
                )
            meter.gas_remaining = remaining - cost
            try:
                logic(computation)
            except Halt:
                break
            continue
        opcode_fn = opcodes.get(opcode)
        if opcode_fn is None:
            opcode_fn = InvalidOpcode(opcode)
        try:
            opcode_fn(computation=computation)
        except Halt:
            break
