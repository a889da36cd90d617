"""Precompiles that bridge the EVM to the native modules (contracts/README.md).

    0x…0800 bank      balanceOf, totalSupply, send
    0x…0801 staking   bond, unbond, bonded, slash
    0x…0802 jobs      postJob, cancelJob, claimJob, submitResult, getJob
    0x…0803 mint      mint, consume, treasury

Call data is Solidity's ABI (contracts/src/interfaces/*.sol). Rules:

* The first address of a state-changing call is the acting account. It must
  be the precompile's caller, unless the caller is one of the genesis facade
  contracts (VCoin at 0x…0C01, JobMarket at 0x…0C02), which act for their own
  caller.
* A refused call reverts with ``Error(string)`` saying why, and takes no
  value; a state-changing call in a static context reverts.
* The native code runs on a branch of the EVM's current journal frame
  (modules/evm/statedb.py), so a revert later in the tx undoes its writes and
  events. Its native events also become EVM logs of the precompile's address:
  topic0 = keccak256(event type), data = abi.encode(string[] keys, string[] values).
* Each method charges a fixed gas (``Method.gas``), documented in the README.

Native messages go through the same routes as Cosmos txs (``validate`` then
``handler``), so a job posted from Solidity is the very job a Cosmos wallet
or worker sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from eth.abc import ComputationAPI
from eth.exceptions import Revert
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils.abi import function_signature_to_4byte_selector

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from chain.errors import ChainError
from chain.events import Event
from modules.evm.abicodec import decode, encode, encode_string_arrays
from modules.evm.bridge import Bridge
from modules.evm.genesis import JOBMARKET_ADDRESS, VCOIN_ADDRESS

ERROR_SELECTOR = bytes.fromhex("08c379a0")
BANK = bytes.fromhex("0000000000000000000000000000000000000800")
STAKING = bytes.fromhex("0000000000000000000000000000000000000801")
JOBS = bytes.fromhex("0000000000000000000000000000000000000802")
MINT = bytes.fromhex("0000000000000000000000000000000000000803")
FACADES = frozenset({VCOIN_ADDRESS, JOBMARKET_ADDRESS})
TREASURY = "treasury"
BURN = "burn"
JOB_REQUEST = "(string,string,string,bytes,string,uint256,uint32,uint64,uint64)"
BOND_URL = "/vcoin.staking.v1.MsgBond"
UNBOND_URL = "/vcoin.staking.v1.MsgUnbond"
ADDR_STR_UINT = ("address", "string", "uint256")
ADDR_ID = ("address", "uint64")
JOB_VIEW = "(uint64,address,address,string,string,string,uint256,uint256,string)"


class Refused(Exception):
    """A precompile call refused: reverts with this message."""


@dataclass(frozen=True)
class Method:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    gas: int
    mutating: bool
    run: Callable[[Bridge, Ctx, tuple[Any, ...]], tuple[Any, ...]]

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(f"{self.name}({','.join(self.inputs)})")


def _addr(a: str) -> bytes:
    return bytes.fromhex(a[2:])


def _route(b: Bridge, ctx: Ctx, url: str, msg: Any) -> None:
    spec = b.routes[url]
    parsed = spec.validate(msg)
    spec.handler(ctx, parsed)


# -- bank -----------------------------------------------------------------------------
def _balance_of(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    return (b.bank.balance(ctx, _addr(a[0]), DENOM),)


def _total_supply(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    return (b.bank.supply(ctx, DENOM),)


def _send(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    frm, to, amount = _addr(a[0]), _addr(a[1]), int(a[2])
    if to == b"\x00" * 20:
        raise Refused("bank: sending to the zero address would lose the coins; use consume to burn")
    if amount:
        b.bank.send(ctx, frm, to, ((DENOM, amount),))
    return (True,)


# -- staking ----------------------------------------------------------------------------
def _bond(url: str, b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    """MsgBond or MsgUnbond (``url``) for the acting account."""
    cls = b.routes[url].cls
    coin = Coin(denom=DENOM, amount=str(a[2]))
    _route(b, ctx, url, cls(address=to_bech32(_addr(a[0])), role=a[1], amount=coin))
    return (True,)


def _bonded(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    return (b.staking.bonded(ctx, _addr(a[0]), a[1]),)


def _slash(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    who, node, penalty = _addr(a[0]), _addr(a[1]), int(a[2])
    authority = b.authority(ctx)
    if to_bech32(who) != authority:
        raise Refused(f"staking: only the slashing authority ({authority}) may slash")
    if not 0 < penalty <= 10_000:
        raise Refused("staking: penaltyBps must be in 1..10000 (basis points of reputation)")
    return (b.slashing.punish_by_authority(ctx, node, penalty),)


# -- jobs ---------------------------------------------------------------------------------
POST_URL = "/vcoin.jobs.v1.MsgPostJob"
CANCEL_URL = "/vcoin.jobs.v1.MsgCancelJob"
CLAIM_URL = "/vcoin.jobs.v1.MsgClaimJob"
SUBMIT_URL = "/vcoin.jobs.v1.MsgSubmitResult"


def _post_job(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    task, model, input_hash, inline, spec, max_price, prio, claim_b, result_b = a[1]
    cls = b.routes[POST_URL].cls
    msg = cls(
        poster=to_bech32(_addr(a[0])),
        task_type=task,
        model=model,
        input_hash=input_hash,
        inline_input=inline,
        spec=spec,
        max_price=str(max_price),
        priority=prio,
        claim_blocks=claim_b,
        result_blocks=result_b,
    )
    before = len(ctx.events)
    _route(b, ctx, POST_URL, msg)
    for e in ctx.events[before:]:
        if e.type == "JobPosted" and e.get("job_id"):
            return (int(str(e.get("job_id"))),)
    raise Refused("jobs: the job was posted but its id was not reported")


def _job_msg(url: str, who: str, b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    """MsgCancelJob or MsgClaimJob (``url``) with the acting account as ``who``."""
    cls = b.routes[url].cls
    _route(b, ctx, url, cls(**{who: to_bech32(_addr(a[0])), "job_id": int(a[1])}))
    return (True,)


def _submit(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    spec = b.routes[SUBMIT_URL]
    msg = spec.cls(
        worker=to_bech32(_addr(a[0])),
        job_id=int(a[1]),
        output_hash=a[2],
        artifact_ref=a[3],
        compute_units=int(a[4]),
    )
    if a[5]:
        try:
            msg.receipt.ParseFromString(bytes(a[5]))
        except Exception as e:  # noqa: BLE001 - any protobuf failure is bad input
            raise Refused(f"jobs: receipt is not a protobuf ExecutionReceipt: {e}") from e
    _route(b, ctx, SUBMIT_URL, msg)
    return (True,)


def _get_job(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    j = b.get_job(ctx, int(a[0]))
    if j is None:
        raise Refused(f"jobs: no job {a[0]}")
    worker = j.worker if j.worker else b"\x00" * 20
    view = (
        j.id,
        "0x" + j.poster.hex(),
        "0x" + worker.hex(),
        j.state,
        j.task_type,
        j.model,
        j.max_price,
        j.price,
        j.output_hash.hex() if j.output_hash else "",
    )
    return (view,)


# -- mint ----------------------------------------------------------------------------------
def _mint(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    who, to, amount = _addr(a[0]), _addr(a[1]), int(a[2])
    authority = b.authority(ctx)
    if to_bech32(who) != authority:
        raise Refused(f"mint: only the platform authority ({authority}) may mint")
    if amount == 0:
        raise Refused("mint: the amount must be positive")
    if to == b"\x00" * 20:
        raise Refused("mint: minting to the zero address would lose the coins")
    b.platform_mint(ctx, to, amount)
    return (True,)


def _consume(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    """The job settlement's split: ``burn_bps`` burned (rounded down), the rest to the treasury."""
    who, amount = _addr(a[0]), int(a[1])
    if amount == 0:
        raise Refused("mint: consume a positive amount")
    burned = amount * b.burn_bps(ctx) // 10_000
    rest = amount - burned
    if b.bank.balance(ctx, who, DENOM) < amount:
        raise Refused(f"mint: {to_bech32(who)} has less than {amount}{DENOM} to consume")
    if burned:
        b.bank.send_to_module(ctx, who, BURN, ((DENOM, burned),))
        b.bank.burn(ctx, BURN, ((DENOM, burned),))
    if rest:
        b.bank.send_to_module(ctx, who, TREASURY, ((DENOM, rest),))
    ctx.emit(Event.of("Consumed", address=to_bech32(who), burned=burned, to_treasury=rest))
    return (burned, rest)


def _treasury(b: Bridge, ctx: Ctx, a: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("0x" + module_address(TREASURY).hex(),)


# the tables are built at import: the runners are module functions (or partials of
# them), called through their names at run time
_m = Method
TABLES: dict[bytes, tuple[str, tuple[Method, ...]]] = {
    BANK: (
        "bank",
        (
            _m("balanceOf", ("address",), ("uint256",), 2_600, False, _balance_of),
            _m("totalSupply", (), ("uint256",), 2_600, False, _total_supply),
            _m("send", ("address", "address", "uint256"), ("bool",), 25_000, True, _send),
        ),
    ),
    STAKING: (
        "staking",
        (
            _m(
                "bond",
                ("address", "string", "uint256"),
                ("bool",),
                60_000,
                True,
                partial(_bond, BOND_URL),
            ),
            _m(
                "unbond",
                ("address", "string", "uint256"),
                ("bool",),
                60_000,
                True,
                partial(_bond, UNBOND_URL),
            ),
            _m("bonded", ("address", "string"), ("uint256",), 2_600, False, _bonded),
            _m("slash", ("address", "address", "uint256"), ("uint256",), 80_000, True, _slash),
        ),
    ),
    JOBS: (
        "jobs",
        (
            _m("postJob", ("address", JOB_REQUEST), ("uint64",), 120_000, True, _post_job),
            _m(
                "cancelJob",
                ("address", "uint64"),
                ("bool",),
                50_000,
                True,
                partial(_job_msg, CANCEL_URL, "poster"),
            ),
            _m(
                "claimJob",
                ("address", "uint64"),
                ("bool",),
                60_000,
                True,
                partial(_job_msg, CLAIM_URL, "worker"),
            ),
            _m(
                "submitResult",
                ("address", "uint64", "string", "string", "uint64", "bytes"),
                ("bool",),
                80_000,
                True,
                _submit,
            ),
            _m("getJob", ("uint64",), (JOB_VIEW,), 5_000, False, _get_job),
        ),
    ),
    MINT: (
        "mint",
        (
            _m("mint", ("address", "address", "uint256"), ("bool",), 40_000, True, _mint),
            _m("consume", ("address", "uint256"), ("uint256", "uint256"), 50_000, True, _consume),
            _m("treasury", (), ("address",), 2_600, False, _treasury),
        ),
    ),
}
_BY_SELECTOR: dict[bytes, dict[bytes, Method]] = {
    addr: {m.selector: m for m in methods} for addr, (_, methods) in TABLES.items()
}


def _revert(computation: ComputationAPI, message: str) -> None:
    computation.output = ERROR_SELECTOR + abi_encode(["string"], [message])
    raise Revert(computation.output)


_TOPICS: dict[str, int] = {}


def _event_log(computation: ComputationAPI, address: bytes, etype: str, attrs: Any) -> None:
    keys = [k for k, _ in attrs]
    values = [v for _, v in attrs]
    data = encode_string_arrays(keys, values)
    topic = _TOPICS.get(etype)
    if topic is None:
        topic = _TOPICS[etype] = int.from_bytes(keccak(etype.encode()), "big")
    # py-evm's add_log_entry less its checks: the address, topic and data are ours
    counter = computation.transaction_context.get_next_log_counter()
    computation._log_entries.append((counter, Address(address), (topic,), data))


def call(address: bytes, computation: ComputationAPI) -> ComputationAPI:
    """Run the precompile at ``address`` for ``computation`` (py-evm's precompile call)."""
    name, _ = TABLES[address]
    msg = computation.msg
    data = bytes(msg.data_as_bytes)
    method = _BY_SELECTOR[address].get(data[:4])
    if method is None:
        _revert(computation, f"{name}: unknown function selector 0x{data[:4].hex()}")
        return computation
    computation.consume_gas(method.gas, reason=f"{name}.{method.name}")
    if msg.value:
        _revert(computation, f"{name}: precompiles take no value")
    if method.mutating and msg.is_static:
        _revert(computation, f"{name}.{method.name} changes state: it cannot run in a static call")
    try:
        args = decode(method.inputs, data[4:])
    except Exception as e:  # noqa: BLE001 - any decoding failure is bad call data
        _revert(computation, f"{name}.{method.name}: bad ABI data: {str(e)[:160]}")
        return computation
    if method.mutating:
        actor = _addr(args[0])
        caller = bytes(msg.sender)
        if actor != caller and caller not in FACADES:
            _revert(
                computation,
                f"{name}.{method.name}: the acting account 0x{actor.hex()} must be the caller "
                f"0x{caller.hex()}",
            )
    adb = computation.state.account_db  # type: ignore[attr-defined]
    bridge: Bridge | None = adb.backend.bridge
    if bridge is None:
        _revert(computation, f"{name}: this node has no native bridge")
        return computation
    # native code runs on the EVM's own journal frame: py-evm took a snapshot for
    # this call (apply_message), so a revert here or later drops its writes and
    # events with the frame
    top: Ctx = adb.top
    mark = len(top.events)
    try:
        result = method.run(bridge, top, args)
    except Refused as e:
        _revert(computation, str(e))
        return computation
    except ChainError as e:
        _revert(computation, f"{name}.{method.name}: {e.log()}")
        return computation
    for ev in top.events[mark:]:
        _event_log(computation, address, ev.type, ev.attributes)
    computation.output = encode(method.outputs, result)
    return computation


def precompiles() -> dict[Address, Callable[[ComputationAPI], ComputationAPI]]:
    """py-evm's precompile table entries for the bridges."""

    return {Address(a): partial(call, a) for a in TABLES}  # pragma: no mutate
