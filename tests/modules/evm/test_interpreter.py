"""The interpreter's fast opcodes against py-evm's own: for every opcode it replaces,
the same stack, memory, program counter, gas and error from the same start, on
stacks of ints and bytes drawn by hypothesis (empty, short and full stacks
included). And the fast table keeps each opcode's gas and name."""

from __future__ import annotations

from typing import Any

import pytest
from eth.exceptions import VMError
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth_typing import Address
from hypothesis import given, settings
from hypothesis import strategies as st

from modules.evm.executor import VCoinComputation
from modules.evm.interpreter import FastStack, fast_opcodes, fixed_gas_table, jumpdests
from tests.support.evm import StatelessStandIn

BASE = CancunComputation.opcodes
FAST = fast_opcodes(BASE)
REPLACED = sorted(op for op in FAST if FAST[op] is not BASE[op])
WORD = 2**256


def test_the_fast_table_replaces_the_common_opcodes_at_their_own_gas() -> None:
    expected = {0x01, 0x03, 0x10, 0x11, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1B, 0x1C,
                0x50, 0x51, 0x52, 0x56, 0x57, 0x5F, *range(0x60, 0xA0)}  # fmt: skip
    assert set(REPLACED) == expected
    for op in REPLACED:
        assert (FAST[op].gas_cost, FAST[op].mnemonic) == (BASE[op].gas_cost, BASE[op].mnemonic)
    assert all(FAST[op] is BASE[op] for op in BASE if op not in expected)
    assert VCoinComputation.opcodes.keys() == BASE.keys()
    table = fixed_gas_table(FAST)
    assert table[0x01] is not None and table[0x01][0] == BASE[0x01].gas_cost
    assert table[0xF1] is None  # CALL: gas worked out in its logic
    assert fixed_gas_table(FAST) is table  # kept per table


def _computation(code: bytes, stack: list[Any], memory: bytes, fast: bool) -> Any:
    msg = Message(gas=10**6, to=Address(b"\x01" * 20), sender=Address(b"\x02" * 20), value=0,
                  data=b"", code=code)  # fmt: skip
    ctx = CancunTransactionContext(gas_price=0, origin=Address(b"\x02" * 20))
    c = CancunComputation(StatelessStandIn(), msg, ctx)  # type: ignore[arg-type]
    if fast:
        c._stack = FastStack()
    c._stack.values.extend(stack)
    c._memory._bytes = bytearray(memory)
    return c


def _run(op: int, table: dict[int, Any], code: bytes, pc: int, stack: list[Any],
         memory: bytes, fast: bool) -> tuple[Any, ...]:  # fmt: skip
    c = _computation(code, stack, memory, fast)
    c.code.program_counter = pc
    before = c.get_gas_remaining()
    try:
        table[op].logic_fn(c)
        err = None
    except VMError as e:
        err = type(e)
    values = [v if isinstance(v, int) else int.from_bytes(v, "big") for v in c._stack.values]
    return (
        err,
        values,
        bytes(c._memory._bytes),
        c.code.program_counter,
        before - c.get_gas_remaining(),
    )


stack_item = st.one_of(
    st.integers(0, WORD - 1),
    st.integers(0, 300),  # small numbers: jump targets, memory offsets, shifts
    st.binary(min_size=0, max_size=32),
)


@settings(max_examples=60, deadline=None)
@given(
    stack=st.lists(stack_item, max_size=20),
    code=st.binary(max_size=80),
    pc=st.integers(0, 90),
    memory=st.sampled_from([b"", bytes(64), bytes(range(96)), bytes(32) + b"\xff" * 32]),
)
@pytest.mark.parametrize("op", REPLACED)
def test_each_fast_opcode_does_what_py_evms_does(
    op: int, stack: list[Any], code: bytes, pc: int, memory: bytes
) -> None:
    ours = _run(op, FAST, code, pc, list(stack), memory, fast=True)
    theirs = _run(op, BASE, code, pc, list(stack), memory, fast=False)
    assert ours == theirs


@pytest.mark.parametrize("op", [0x5F, 0x60, 0x7F, 0x80, 0x8F])
def test_a_full_stack_refuses_a_push_or_dup_like_py_evm(op: int) -> None:
    full = [1] * 1024
    ours = _run(op, FAST, b"\x00" * 40, 0, list(full), b"", fast=True)
    theirs = _run(op, BASE, b"\x00" * 40, 0, list(full), b"", fast=False)
    assert ours == theirs and ours[0] is not None
    one_less = _run(op, FAST, b"\x00" * 40, 0, [1] * 1023, b"", fast=True)
    assert one_less[0] is None and len(one_less[1]) == 1024


def test_jump_destinations_skip_push_data() -> None:
    # JUMPDEST at 0; PUSH2 0x5b5b (data, not destinations) at 1; JUMPDEST at 4; PUSH32 … 5b
    code = bytes([0x5B, 0x61, 0x5B, 0x5B, 0x5B, 0x7F]) + b"\x5b" * 32 + bytes([0x5B])
    assert jumpdests(code) == frozenset({0, 4, 38})
    assert jumpdests(b"") == frozenset()
    assert jumpdests(bytes([0x60])) == frozenset()  # a PUSH1 cut short
