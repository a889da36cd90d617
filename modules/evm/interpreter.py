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
  produce already in range (they mask to 256 bits and pad to 32 bytes);
* ``FAST_OPCODES`` replaces the logic of the commonest opcodes (PUSHn, DUPn,
  SWAPn, POP, JUMP, JUMPI, MLOAD and MSTORE within memory already, and the
  plain arithmetic, comparison and bitwise ones) with the same computation on the
  stack's list, and PUSHn pushes its
  value as an int (as arithmetic results are: every opcode takes either);
  JUMP and JUMPI look the destination up in a table of the code's valid
  JUMPDESTs, made once per code.

tests/modules/evm/test_reference.py runs the same transactions here and on
py-evm's own state (eth-tester) and compares status and gas to the unit.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from eth.abc import ComputationAPI
from eth.exceptions import (
    FullStack,
    Halt,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfGas,
)
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.opcode import _FastOpcode, as_opcode
from eth.vm.stack import Stack, to_int

STACK_LIMIT = 1024
# opcode table (by identity) -> its fixed-gas opcodes as a 256-entry list of
# (gas, logic, mnemonic), None for the others
_FIXED: dict[int, tuple[Any, list[tuple[int, Any, str] | None]]] = {}


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


def fixed_gas_table(opcodes: dict[int, Any]) -> list[tuple[int, Any, str] | None]:
    """The fixed-gas opcodes of ``opcodes`` (those py-evm made with ``as_opcode``),
    indexed by opcode byte."""
    hit = _FIXED.get(id(opcodes))
    if hit is not None and hit[0] is opcodes:
        return hit[1]
    table: list[tuple[int, Any, str] | None] = [None] * 256
    for op, fn in opcodes.items():
        if type(fn) is _FastOpcode:
            table[op] = (fn.gas_cost, fn.logic_fn, fn.mnemonic)
    _FIXED[id(opcodes)] = (opcodes, table)
    return table


def run_opcodes(computation: ComputationAPI) -> None:
    """py-evm's opcode loop (``BaseComputation.apply_computation``) without its
    per-opcode call layers; raises what py-evm raises.

    PUSHn, DUPn, SWAPn, JUMPDEST, JUMP, JUMPI and POP (two thirds of what an
    ERC-20 transfer runs) are done right here on the stack's list, at their
    fixed gas from py-evm's table; every other opcode is called with
    ``code.program_counter`` just past it, as py-evm calls it."""
    opcodes = computation.opcodes
    fixed = fixed_gas_table(opcodes)
    meter = computation._gas_meter
    code = computation.code
    raw = code._raw_code_bytes  # type: ignore[attr-defined]
    values = computation._stack.values  # type: ignore[attr-defined]
    n = len(raw)
    dests = jumpdests(raw)
    pc = code.program_counter
    while pc < n:
        opcode = raw[pc]
        pc += 1
        entry = fixed[opcode]
        if entry is not None:
            cost = entry[0]
            remaining = meter.gas_remaining
            if cost > remaining:
                code.program_counter = pc
                raise OutOfGas(
                    f"Out of gas: Needed {cost} - Remaining {remaining} - Reason: {entry[2]}"
                )
            meter.gas_remaining = remaining - cost
            if 0x60 <= opcode <= 0x9F:
                if opcode <= 0x7F:  # PUSH1..PUSH32, zero-padded past the end of the code
                    if len(values) >= STACK_LIMIT:
                        code.program_counter = pc
                        raise FullStack("Stack limit reached")
                    end = pc + opcode - 0x5F
                    if end <= n:
                        values.append(int.from_bytes(raw[pc:end], "big"))
                    else:
                        values.append(int.from_bytes(raw[pc:end], "big") << (8 * (end - n)))
                    pc = end
                elif opcode <= 0x8F:  # DUP1..DUP16
                    position = opcode - 0x7F
                    if len(values) >= STACK_LIMIT:
                        code.program_counter = pc
                        raise FullStack("Stack limit reached")
                    if len(values) < position:
                        code.program_counter = pc
                        raise InsufficientStack(f"Insufficient stack items for DUP{position}")
                    values.append(values[-position])
                else:  # SWAP1..SWAP16
                    position = opcode - 0x8F
                    if len(values) <= position:
                        code.program_counter = pc
                        raise InsufficientStack(f"Insufficient stack items for SWAP{position}")
                    values[-1], values[-1 - position] = values[-1 - position], values[-1]
                continue
            if opcode == JUMPDEST:
                continue
            if opcode == 0x56 or opcode == 0x57:  # JUMP, JUMPI
                if opcode == 0x56:
                    if not values:
                        code.program_counter = pc
                        raise InsufficientStack("Wanted 1 stack item, had none")
                    dest = values.pop()
                    if dest.__class__ is not int:
                        dest = int.from_bytes(dest, "big")
                else:
                    code.program_counter = pc
                    dest, check = _ints2(values)
                    if not check:
                        continue
                if dest not in dests:
                    _jump_to(computation, dest)  # raises py-evm's error for it
                pc = dest
                continue
            if opcode == 0x50:  # POP
                if not values:
                    code.program_counter = pc
                    raise InsufficientStack("Wanted 1 stack item, had none")
                values.pop()
                continue
            code.program_counter = pc
            try:
                entry[1](computation)
            except Halt:
                return
            pc = code.program_counter
            continue
        code.program_counter = pc
        opcode_fn = opcodes.get(opcode)
        if opcode_fn is None:
            opcode_fn = InvalidOpcode(opcode)
        try:
            opcode_fn(computation=computation)
        except Halt:
            return
        pc = code.program_counter
    code.program_counter = pc


# -- the commonest opcodes, on the stack's list ------------------------------------------
UINT_256_MAX = 2**256 - 1
JUMPDEST = 0x5B
_JUMPDESTS: dict[bytes, frozenset[int]] = {}
_JUMPDESTS_KEPT = 1024


def _ints2(values: list[Any]) -> tuple[int, int]:
    """The top two values as ints (top first), popped; py-evm's ``pop_ints(2)``."""
    if len(values) < 2:
        raise InsufficientStack(f"Wanted 2 stack items, only had {len(values)}")
    a = values.pop()
    b = values.pop()
    if a.__class__ is not int:
        a = int.from_bytes(a, "big")
    if b.__class__ is not int:
        b = int.from_bytes(b, "big")
    return a, b


def _int1(values: list[Any]) -> int:
    if not values:
        raise InsufficientStack("Wanted 1 stack item, had none")
    a = values.pop()
    return a if a.__class__ is int else int.from_bytes(a, "big")


def _add(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append((a + b) & UINT_256_MAX)


def _sub(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append((a - b) & UINT_256_MAX)


def _lt(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append(1 if a < b else 0)


def _gt(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append(1 if a > b else 0)


def _eq(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append(1 if a == b else 0)


def _iszero(c: Any) -> None:
    v = c._stack.values
    v.append(1 if _int1(v) == 0 else 0)


def _and(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append(a & b)


def _or(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append(a | b)


def _xor(c: Any) -> None:
    v = c._stack.values
    a, b = _ints2(v)
    v.append(a ^ b)


def _not(c: Any) -> None:
    v = c._stack.values
    v.append(UINT_256_MAX - _int1(v))


def _shl(c: Any) -> None:
    v = c._stack.values
    shift, value = _ints2(v)
    v.append(0 if shift >= 256 else (value << shift) & UINT_256_MAX)


def _shr(c: Any) -> None:
    v = c._stack.values
    shift, value = _ints2(v)
    v.append(0 if shift >= 256 else (value >> shift) & UINT_256_MAX)


def _pop(c: Any) -> None:
    v = c._stack.values
    if not v:
        raise InsufficientStack("Wanted 1 stack item, had none")
    v.pop()


def _push0(c: Any) -> None:
    v = c._stack.values
    if len(v) >= STACK_LIMIT:
        raise FullStack("Stack limit reached")
    v.append(0)


def _push(size: int, c: Any) -> None:
    """PUSHn (``size`` bytes of code, zero-padded past its end) as an int."""
    code = c.code
    pc = code.program_counter
    raw = code._raw_code_bytes[pc : pc + size]
    code.program_counter = pc + size
    v = c._stack.values
    if len(v) >= STACK_LIMIT:
        raise FullStack("Stack limit reached")
    v.append(int.from_bytes(raw, "big") << (8 * (size - len(raw))))


def _dup(position: int, c: Any) -> None:
    v = c._stack.values
    if len(v) >= STACK_LIMIT:
        raise FullStack("Stack limit reached")
    if len(v) < position:
        raise InsufficientStack(f"Insufficient stack items for DUP{position}")
    v.append(v[-position])


def _swap(position: int, c: Any) -> None:
    v = c._stack.values
    if len(v) <= position:
        raise InsufficientStack(f"Insufficient stack items for SWAP{position}")
    v[-1], v[-1 - position] = v[-1 - position], v[-1]


def _pop_any(values: list[Any]) -> Any:
    if not values:
        raise InsufficientStack("Wanted 1 stack item, had none")
    return values.pop()


def _mstore(c: Any) -> None:
    """MSTORE; when the word lies in memory already (no growth, no gas), written in place."""
    v = c._stack.values
    start = _int1(v)
    value = _pop_any(v)
    if value.__class__ is int:
        word = value.to_bytes(32, "big")
    else:
        word = value.rjust(32, b"\x00")[-32:]
    mem = c._memory._bytes
    if start + 32 > len(mem):
        c.extend_memory(start, 32)
        mem = c._memory._bytes  # extending may have made a new buffer
    mem[start : start + 32] = word


def _mload(c: Any) -> None:
    """MLOAD; a word already in memory is read in place."""
    v = c._stack.values
    start = _int1(v)
    mem = c._memory._bytes
    if start + 32 > len(mem):
        c.extend_memory(start, 32)
        mem = c._memory._bytes
    v.append(int.from_bytes(mem[start : start + 32], "big"))


def memory_cost(size: int) -> int:
    """py-evm's ``memory_gas_cost`` of ``size`` bytes (a multiple of 32)."""
    words = size // 32
    return words * 3 + words * words // 512


def extend_memory(c: Any, start: int, size: int) -> bool:
    """py-evm's ``extend_memory`` for in-range ints (True), else False (the caller
    runs py-evm's, which refuses them): no gas and nothing to do when the range is
    in memory already, else the expansion's gas, with py-evm's OutOfGas."""
    if (
        start.__class__ is not int
        or size.__class__ is not int
        or not 0 <= start <= UINT_256_MAX
        or not 0 <= size <= UINT_256_MAX
    ):
        return False
    if not size:
        return True
    mem = c._memory
    before = len(mem._bytes)  # always a whole number of words
    end = start + size
    if end <= before:
        return True
    after = (end + 31) // 32 * 32
    c._gas_meter.consume_gas(
        memory_cost(after) - memory_cost(before), reason=f"Expanding memory {before} -> {after}"
    )
    mem.extend(start, size)
    return True


def jumpdests(code: bytes) -> frozenset[int]:
    """The positions of ``code`` holding a JUMPDEST that is an instruction (not
    PUSH data): the only valid jump targets."""
    hit = _JUMPDESTS.get(code)
    if hit is not None:
        return hit
    found = []
    i, n = 0, len(code)
    while i < n:
        op = code[i]
        if op == JUMPDEST:
            found.append(i)
        elif 0x60 <= op <= 0x7F:
            i += op - 0x5F
        i += 1
    dests = frozenset(found)
    if len(_JUMPDESTS) >= _JUMPDESTS_KEPT:
        _JUMPDESTS.clear()
    _JUMPDESTS[code] = dests
    return dests


def _jump_to(c: Any, dest: int) -> None:
    code = c.code
    code.program_counter = dest
    if dest not in jumpdests(code._raw_code_bytes):
        if code.peek() != JUMPDEST:
            raise InvalidJumpDestination("Invalid Jump Destination")
        raise InvalidInstruction("Jump resulted in invalid instruction")


def _jump(c: Any) -> None:
    _jump_to(c, _int1(c._stack.values))


def _jumpi(c: Any) -> None:
    dest, check = _ints2(c._stack.values)
    if check:
        _jump_to(c, dest)


def fast_opcodes(base: dict[int, Any]) -> dict[int, Any]:
    """``base`` (py-evm's opcode table) with the commonest opcodes' logic replaced,
    each at its own gas."""
    logic: dict[int, Any] = {
        0x01: _add,
        0x03: _sub,
        0x10: _lt,
        0x11: _gt,
        0x14: _eq,
        0x15: _iszero,
        0x16: _and,
        0x17: _or,
        0x18: _xor,
        0x19: _not,
        0x1B: _shl,
        0x1C: _shr,
        0x50: _pop,
        0x5F: _push0,
        0x51: _mload,
        0x52: _mstore,
        0x56: _jump,
        0x57: _jumpi,
    }
    logic.update({0x60 + i: partial(_push, i + 1) for i in range(32)})
    logic.update({0x80 + i: partial(_dup, i + 1) for i in range(16)})
    logic.update({0x90 + i: partial(_swap, i + 1) for i in range(16)})
    out = dict(base)
    for op, fn in logic.items():
        old = base[op]
        assert type(old) is _FastOpcode, f"opcode 0x{op:02x} has no fixed gas in py-evm"
        out[op] = as_opcode(fn, old.mnemonic, old.gas_cost)
    return out
