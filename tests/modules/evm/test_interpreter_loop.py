"""The whole opcode loop against py-evm's: random programs run by
``interpreter.run_opcodes`` on VCoin's computation (PUSH, DUP and SWAP done in
the loop itself, the fast table, the fast memory growth) and by py-evm's own
loop on Cancun's computation end with the same stack, memory, gas and error.
And memory growth alone, at, under and over the memory's end, with gas to
spare, exactly enough and one short."""

from __future__ import annotations

from typing import Any

from eth.exceptions import Halt, OutOfGas, VMError
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.message import Message
from eth_typing import Address
from hypothesis import given, settings
from hypothesis import strategies as st

from modules.evm.executor import VCoinComputation
from modules.evm.interpreter import memory_cost, run_opcodes
from tests.support.evm import StatelessStandIn

WORD = 2**256


def _computation(cls: Any, code: bytes, gas: int, memory: bytes = b"") -> Any:
    msg = Message(gas=gas, to=Address(b"\x01" * 20), sender=Address(b"\x02" * 20), value=0,
                  data=b"", code=code)  # fmt: skip
    ctx = CancunTransactionContext(gas_price=0, origin=Address(b"\x02" * 20))
    c = cls(StatelessStandIn(), msg, ctx)
    c._memory._bytes = bytearray(memory)
    return c


def _py_evm_loop(c: Any) -> None:
    """py-evm's ``apply_computation`` loop, as it is."""
    for opcode in c.code:
        fn = c.opcodes.get(opcode) or InvalidOpcode(opcode)
        try:
            fn(computation=c)
        except Halt:
            break


def _outcome(c: Any, run: Any) -> tuple[Any, ...]:
    try:
        run(c)
        err = None
    except VMError as e:
        err = (type(e), str(e))
    values = [v if isinstance(v, int) else int.from_bytes(v, "big") for v in c._stack.values]
    return err, values, bytes(c._memory._bytes), c.get_gas_remaining()


# what the programs are made of: the loop's own opcodes with their data, the fast
# table's, memory, jumps, and a few that py-evm runs itself (CALLDATASIZE, GAS,
# PC, MSIZE, KECCAK256, STOP, INVALID, an unassigned byte)
_OPS = st.one_of(
    st.integers(1, 32).flatmap(
        lambda n: st.binary(min_size=n, max_size=n).map(lambda d: bytes([0x5F + n]) + d)
    ),
    st.integers(0x80, 0x9F).map(lambda op: bytes([op])),
    st.sampled_from(
        [
            0x01,
            0x03,
            0x10,
            0x14,
            0x15,
            0x16,
            0x19,
            0x1B,
            0x50,
            0x5F,
            0x51,
            0x52,
            0x53,
            0x56,
            0x57,
            0x5B,
            0x36,
            0x5A,
            0x58,
            0x59,
            0x20,
            0x00,
            0xFE,
            0x0C,
        ]
    ).map(lambda op: bytes([op])),  # fmt: skip
)
# a whole program, then maybe a PUSH cut short by the end of the code
_PROGRAM = st.tuples(
    st.lists(_OPS, max_size=60).map(b"".join),
    st.sampled_from([b"", b"\x60", b"\x62\x01", b"\x7f\x01\x02"]),
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(code=_PROGRAM, gas=st.integers(0, 3_000))
def test_run_opcodes_ends_where_py_evm_ends(code: bytes, gas: int) -> None:
    ours = _outcome(_computation(VCoinComputation, code, gas), run_opcodes)
    theirs = _outcome(_computation(CancunComputation, code, gas), _py_evm_loop)
    assert ours == theirs


def test_a_push_cut_short_by_the_end_of_the_code_is_zero_padded() -> None:
    for code in (bytes([0x61, 0xAB]), bytes([0x7F]) + b"\x01" * 31, bytes([0x60])):
        ours = _outcome(_computation(VCoinComputation, code, 100), run_opcodes)
        theirs = _outcome(_computation(CancunComputation, code, 100), _py_evm_loop)
        assert ours == theirs
    assert _outcome(_computation(VCoinComputation, bytes([0x61, 0xAB]), 100), run_opcodes)[1] == [
        0xAB00
    ]


def test_stack_limits_in_the_loop_are_py_evms() -> None:
    # 1024 pushes fill the stack; one more PUSH, or a DUP, is refused; SWAP16 on 16
    # items is refused, on 17 it is not
    for tail in (b"\x60\x01", b"\x80", b"\x5f"):
        code = b"\x5f" * 1024 + tail
        ours = _outcome(_computation(VCoinComputation, code, 10**6), run_opcodes)
        theirs = _outcome(_computation(CancunComputation, code, 10**6), _py_evm_loop)
        assert ours == theirs and ours[0] is not None
    for n, ok in ((16, False), (17, True)):
        code = b"\x5f" * n + b"\x9f"
        ours = _outcome(_computation(VCoinComputation, code, 10**6), run_opcodes)
        assert ours == _outcome(_computation(CancunComputation, code, 10**6), _py_evm_loop)
        assert (ours[0] is None) is ok


def _grow(cls: Any, memory: int, start: int, size: int, gas: int) -> tuple[Any, ...]:
    c = _computation(cls, b"", gas, bytes(memory))
    try:
        c.extend_memory(start, size)
        err = None
    except (VMError, Exception) as e:  # noqa: BLE001 - the kind and words are compared
        err = (type(e), str(e))
    return err, len(c._memory._bytes), c.get_gas_remaining()


@settings(max_examples=300, deadline=None)
@given(
    memory=st.sampled_from([0, 32, 64, 96, 1024]),
    start=st.one_of(st.integers(0, 2_000), st.integers(0, WORD - 1), st.sampled_from([-1, WORD])),
    size=st.one_of(st.integers(0, 200), st.sampled_from([0, 1, 32, WORD - 1, WORD, -1])),
    gas=st.integers(0, 400),
)
def test_memory_growth_is_py_evms(memory: int, start: int, size: int, gas: int) -> None:
    assert _grow(VCoinComputation, memory, start, size, gas) == _grow(
        CancunComputation, memory, start, size, gas
    )


def test_memory_growth_at_under_and_over_the_end_and_the_gas() -> None:
    # 64 bytes in memory: a word at 32 needs nothing, at 33 one more word
    assert _grow(VCoinComputation, 64, 32, 32, 0) == (None, 64, 0)
    fee = memory_cost(96) - memory_cost(64)
    assert fee == 3
    assert _grow(VCoinComputation, 64, 33, 32, fee) == (None, 96, 0)
    err, size, gas = _grow(VCoinComputation, 64, 33, 32, fee - 1)
    assert err is not None and err[0] is OutOfGas and (size, gas) == (64, fee - 1)
    assert "Expanding memory 64 -> 96" in err[1]
