"""The Ethereum JSON-RPC methods: ``EthApi.call(method, params)``.

State is read at the last commit (``latest``, ``safe``, ``finalized`` and that
block's number or hash) or at the node's CheckTx state (``pending``: what the
mempool's txs leave, so a wallet's pending nonce counts its queued txs); the
store keeps no older state, and asking for it is a clear error. Blocks, txs,
receipts and logs come from the block store (``blocks.py``). Each state read
holds the node lock only for the read itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from eth.exceptions import InsufficientFunds, OutOfGas, PyEVMError, Revert
from eth_hash.auto import keccak

from app.ethrpc import hexio
from app.ethrpc.blocks import Chain, EthBlock, block_json, receipt_json, tx_json
from app.ethrpc.callcache import CallCache
from app.ethrpc.filters import Filters
from app.ethrpc.hexio import RpcError, hexdata, invalid, q
from app.ethrpc.logs import find_logs
from chain.coins import DENOM
from chain.context import Ctx
from chain.errors import ChainError
from chain.version import VERSION
from modules.evm import executor
from modules.evm import state as evm_state
from modules.evm import txs as evm_txs
from modules.evm.keeper import EvmKeeper

if TYPE_CHECKING:
    from app.node import Node

log = logging.getLogger("vcoin.ethrpc")
T = TypeVar("T")
MAX_CALL_DATA = 128 * 1024
MAX_FEE_HISTORY_BLOCKS = 1024
MAX_PERCENTILES = 100
TIP_SAMPLE_BLOCKS = 20
ESTIMATE_TOLERANCE = 0.015  # geth's: stop the search within 1.5 % of the answer
CLIENT_VERSION = f"vcoin/v{VERSION}/python"


@dataclass(frozen=True)
class EthRpcLimits:
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_requests: int = 100
    logs_max_blocks: int = 10_000
    logs_max_results: int = 10_000
    max_response_bytes: int = 32 * 1024 * 1024
    # most gas an eth_call / eth_estimateGas runs: it holds the node lock while it
    # runs (py-evm does about 2M gas a second), so blocks wait for it
    call_gas_cap: int = 10_000_000
    # eth_call answers kept for the latest block (app/ethrpc/callcache.py); 0: none
    call_cache: int = 4096


@dataclass(frozen=True)
class Method:
    fn: Callable[[list[Any]], Any]
    min_params: int
    max_params: int


def obj(v: Any, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise invalid(f"{what}: expected an object")
    return v


def flag(v: Any, what: str) -> bool:
    if v is None:
        return False
    if not isinstance(v, bool):
        raise invalid(f"{what}: expected true or false")
    return v


def _arg(params: list[Any], i: int) -> Any:
    return params[i] if i < len(params) else None


def intrinsic_gas(data: bytes, create: bool, access_list: list[Any]) -> int:
    """What a tx pays before it runs (Cancun: EIP-2028 calldata, EIP-3860 init code)."""
    zeros = data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(data) - zeros)
    if create:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)
    for entry in access_list:
        gas += 2_400 + 1_900 * len(entry.get("storageKeys") or [])
    return gas


@dataclass(frozen=True)
class CallArgs:
    sender: bytes
    to: bytes | None
    data: bytes
    value: int
    gas: int | None
    access_list: list[Any]

    @classmethod
    def parse(cls, v: Any) -> CallArgs:
        tx = obj(v, "transaction")
        d, i = tx.get("data"), tx.get("input")
        if d is not None and i is not None and d != i:
            raise invalid("transaction: data and input differ; send one of them")
        payload = i if i is not None else d
        access = tx.get("accessList") or []
        if not isinstance(access, list) or not all(isinstance(a, dict) for a in access):
            raise invalid("transaction.accessList: expected an array of objects")
        for j, a in enumerate(access):
            if not isinstance(a.get("storageKeys") or [], list):
                raise invalid(f"transaction.accessList[{j}].storageKeys: expected an array")
        to = tx.get("to")
        return cls(
            sender=hexio.address(tx["from"], "transaction.from") if tx.get("from") else b"\0" * 20,
            to=hexio.address(to, "transaction.to") if to else None,
            data=hexio.data(payload, "transaction.input", MAX_CALL_DATA) if payload else b"",
            value=hexio.quantity(tx["value"], "transaction.value") if tx.get("value") else 0,
            gas=hexio.quantity(tx["gas"], "transaction.gas", 64) if tx.get("gas") else None,
            access_list=access,
        )

    @property
    def intrinsic(self) -> int:
        return intrinsic_gas(self.data, self.to is None, self.access_list)


def revert_error(out: executor.Outcome) -> RpcError:
    """The error of a call that did not succeed, as geth words it."""
    c = out.computation
    output = bytes(c.output)
    if isinstance(c.error, Revert):
        reason = executor.revert_reason(output)
        said = reason and not reason.startswith("0x")  # Error(string), not raw data
        text = "execution reverted" + (f": {reason}" if said else "")
        return RpcError(hexio.EXECUTION_REVERTED, text, hexdata(output))
    if isinstance(c.error, OutOfGas):
        return RpcError(hexio.SERVER_ERROR, "out of gas")
    detail = str(c.error)[:200] or "no detail"
    return RpcError(hexio.SERVER_ERROR, f"execution failed: {type(c.error).__name__}: {detail}")


class EthApi:
    def __init__(self, node: Node, limits: EthRpcLimits | None = None) -> None:
        self.node = node
        self.limits = limits or EthRpcLimits()
        self.chain = Chain(node)
        self.filters = Filters(
            self.chain, self.limits.logs_max_blocks, self.limits.logs_max_results
        )
        keeper = node.app.wiring.keepers["evm"]
        assert isinstance(keeper, EvmKeeper)
        self.keeper = keeper
        self.call_cache = CallCache(self.limits.call_cache, getattr(node, "metrics", None))
        m = Method
        self.methods: dict[str, Method] = {
            "web3_clientVersion": m(lambda p: CLIENT_VERSION, 0, 0),
            "web3_sha3": m(lambda p: hexdata(keccak(hexio.data(p[0], "data", 1 << 20))), 1, 1),
            "net_version": m(lambda p: str(self.chain.params().chain_id), 0, 0),
            "net_listening": m(lambda p: True, 0, 0),
            "net_peerCount": m(lambda p: "0x0", 0, 0),
            "eth_chainId": m(lambda p: q(self.chain.params().chain_id), 0, 0),
            "eth_blockNumber": m(lambda p: q(self.chain.latest()), 0, 0),
            "eth_syncing": m(lambda p: False, 0, 0),
            "eth_accounts": m(lambda p: [], 0, 0),
            "eth_mining": m(lambda p: False, 0, 0),
            "eth_hashrate": m(lambda p: "0x0", 0, 0),
            "eth_gasPrice": m(self.gas_price, 0, 0),
            "eth_maxPriorityFeePerGas": m(lambda p: q(self.suggested_tip()), 0, 0),
            "eth_feeHistory": m(self.fee_history, 2, 3),
            "eth_getBalance": m(self.get_balance, 1, 2),
            "eth_getTransactionCount": m(self.get_transaction_count, 1, 2),
            "eth_getCode": m(self.get_code, 1, 2),
            "eth_getStorageAt": m(self.get_storage_at, 2, 3),
            "eth_call": m(self.eth_call, 1, 3),
            "eth_estimateGas": m(self.estimate_gas, 1, 3),
            "eth_sendRawTransaction": m(self.send_raw_transaction, 1, 1),
            "eth_getTransactionByHash": m(self.get_transaction_by_hash, 1, 1),
            "eth_getTransactionReceipt": m(self.get_transaction_receipt, 1, 1),
            "eth_getBlockByNumber": m(self.get_block, 1, 2),
            "eth_getBlockByHash": m(self.get_block_by_hash, 1, 2),
            "eth_getBlockReceipts": m(self.get_block_receipts, 1, 1),
            "eth_getBlockTransactionCountByNumber": m(self.tx_count, 1, 1),
            "eth_getBlockTransactionCountByHash": m(self.tx_count_by_hash, 1, 1),
            "eth_getTransactionByBlockNumberAndIndex": m(self.tx_by_block_index, 2, 2),
            "eth_getTransactionByBlockHashAndIndex": m(self.tx_by_block_hash_index, 2, 2),
            "eth_getUncleByBlockHashAndIndex": m(lambda p: self._uncle(p, True), 2, 2),
            "eth_getUncleByBlockNumberAndIndex": m(lambda p: self._uncle(p, False), 2, 2),
            "eth_getUncleCountByBlockHash": m(lambda p: self._uncles(p, True), 1, 1),
            "eth_getUncleCountByBlockNumber": m(lambda p: self._uncles(p, False), 1, 1),
            "eth_getLogs": m(self.get_logs, 1, 1),
            "eth_newFilter": m(self.filters.new_filter, 1, 1),
            "eth_newBlockFilter": m(self.filters.new_block_filter, 0, 0),
            "eth_newPendingTransactionFilter": m(self.filters.new_pending_filter, 0, 0),
            "eth_getFilterChanges": m(self.filters.changes, 1, 1),
            "eth_getFilterLogs": m(self.filters.filter_logs, 1, 1),
            "eth_uninstallFilter": m(self.filters.uninstall, 1, 1),
        }
        # method families that live in their own files (each returns name -> Method)
        from app.ethrpc import ots, proof, trace

        for family in (trace.methods, ots.methods, proof.methods):
            self.methods.update(family(self))

    def call(self, method: str, params: list[Any]) -> Any:
        m = self.methods.get(method)
        if m is None:
            raise RpcError(
                hexio.METHOD_NOT_FOUND, f"the method {method[:100]} does not exist/is not available"
            )
        if not m.min_params <= len(params) <= m.max_params:
            want = (
                str(m.min_params)
                if m.min_params == m.max_params
                else f"{m.min_params} to {m.max_params}"
            )
            raise invalid(f"{method} takes {want} parameters, got {len(params)}")
        try:
            return m.fn(params)
        except ChainError as e:
            raise RpcError(hexio.SERVER_ERROR, e.message) from e

    # -- state ------------------------------------------------------------------------------
    def _state(self, tag_param: Any, read: Callable[[Ctx], T]) -> T:
        tag = hexio.block_tag(tag_param)
        want: int | None = None
        if tag not in ("latest", "pending", "safe", "finalized"):
            want = self.chain.resolve(tag)
            if want is None:
                raise RpcError(hexio.SERVER_ERROR, f"block {_show_tag(tag)} not found")
        with self.node.lock:
            if tag == "pending":
                return read(self.node.app.check_ctx())
            ctx = self.node.app.query_ctx()
            if want is not None and want != ctx.block.height:
                raise RpcError(
                    hexio.SERVER_ERROR,
                    f"state at block {want} is not kept: this node answers state queries "
                    f"at the latest block ({ctx.block.height}) and pending only",
                )
            return read(ctx)

    def get_balance(self, p: list[Any]) -> str:
        addr = hexio.address(p[0])
        return q(self._state(_arg(p, 1), lambda c: self.keeper.bank.balance(c, addr, DENOM)))

    def get_transaction_count(self, p: list[Any]) -> str:
        addr = hexio.address(p[0])
        return q(self._state(_arg(p, 1), lambda c: self.keeper.accounts.sequence(c, addr)))

    def get_code(self, p: list[Any]) -> str:
        addr = hexio.address(p[0])
        return hexdata(self._state(_arg(p, 1), lambda c: evm_state.code_of(c, addr)))

    def get_storage_at(self, p: list[Any]) -> str:
        addr = hexio.address(p[0])
        slot = hexio.quantity(p[1], "slot")
        value = self._state(_arg(p, 2), lambda c: evm_state.storage_at(c, addr, slot))
        return f"0x{value:064x}"

    # -- calls --------------------------------------------------------------------------------
    def _run(self, args: CallArgs, tag: Any, gas: int) -> executor.Outcome:
        """``args`` as a message with ``gas`` for the whole tx (intrinsic gas included)."""
        return self._guarded(lambda: self._state(tag, lambda c: self._execute(c, args, gas)))

    def _execute(self, ctx: Ctx, args: CallArgs, gas: int) -> executor.Outcome:
        exec_gas = gas - args.intrinsic
        if exec_gas <= 0:
            raise RpcError(
                hexio.SERVER_ERROR, f"intrinsic gas too low: have {gas}, want {args.intrinsic}"
            )
        return self.keeper.call(ctx, args.sender, args.to, args.data, args.value, exec_gas)

    @staticmethod
    def _guarded(run: Callable[[], T]) -> T:
        """``run()``, py-evm's errors as JSON-RPC ones."""
        try:
            return run()
        except InsufficientFunds as e:  # the top message's value: py-evm raises it
            raise RpcError(hexio.SERVER_ERROR, f"insufficient funds for transfer: {e}") from e
        except PyEVMError as e:
            detail = str(e)[:200] or "no detail"
            raise RpcError(
                hexio.SERVER_ERROR, f"execution failed: {type(e).__name__}: {detail}"
            ) from e

    def _gas_cap(self, args: CallArgs) -> int:
        cap = min(self.chain.params().block_gas_limit, self.limits.call_gas_cap)
        return cap if args.gas is None else min(args.gas, cap)

    def eth_call(self, p: list[Any]) -> str:
        if _arg(p, 2) is not None:
            raise invalid("state overrides (the third parameter) are not supported")
        args = CallArgs.parse(p[0])
        tag, gas = _arg(p, 1), self._gas_cap(args)
        which = hexio.block_tag(tag)
        key = None
        if which != "pending":  # the mempool's state is never cached
            key = self.call_cache.key(
                args.sender, args.to, args.data, args.value, gas, args.access_list
            )
        if key is None:
            return self._call_answer(self._run(args, tag, gas))
        cache, app = self.call_cache, self.node.app

        def answer(height: int, ctx: Callable[[], Ctx]) -> str:
            """Under the node lock, so the answer and its block agree."""
            out = cache.get(height, key)
            if out is None:
                out = self._call_answer(self._guarded(lambda: self._execute(ctx(), args, gas)))
                cache.put(height, key, out)
            return out

        if which in ("latest", "safe", "finalized"):  # a hit makes no state context
            with self.node.lock:
                return answer(app.store.height(), app.query_ctx)
        return self._state(tag, lambda c: answer(c.block.height, lambda: c))

    @staticmethod
    def _call_answer(out: executor.Outcome) -> str:
        if not out.computation.is_success:
            raise revert_error(out)
        return hexdata(bytes(out.computation.output))

    def estimate_gas(self, p: list[Any]) -> str:
        """The least gas (within 1.5 %) with which the tx succeeds, by binary search."""
        if _arg(p, 2) is not None:
            raise invalid("state overrides (the third parameter) are not supported")
        args = CallArgs.parse(p[0])
        tag = _arg(p, 1)
        cap = self._gas_cap(args)
        if cap < args.intrinsic:
            raise RpcError(
                hexio.SERVER_ERROR, f"intrinsic gas too low: have {cap}, want {args.intrinsic}"
            )
        out = self._run(args, tag, cap)
        if not out.computation.is_success:
            if isinstance(out.computation.error, OutOfGas):
                raise RpcError(hexio.SERVER_ERROR, f"gas required exceeds allowance ({cap})")
            raise revert_error(out)
        used = args.intrinsic + out.gas_used

        def ok(gas: int) -> bool:
            if gas <= args.intrinsic:
                return False
            return bool(self._run(args, tag, gas).computation.is_success)

        if out.gas_used == 0 or used >= cap or ok(used):  # no code ran, or no 63/64 margin
            return q(min(used, cap))
        lo, hi = used, cap
        optimistic = min(cap, (used + 2_300) * 64 // 63)
        if ok(optimistic):
            hi = optimistic
        else:
            lo = optimistic
        while hi - lo > 1 and (hi - lo) > hi * ESTIMATE_TOLERANCE:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return q(hi)

    def send_raw_transaction(self, p: list[Any]) -> str:
        raw = hexio.data(p[0], "transaction", evm_txs.MAX_ETH_TX_BYTES)
        if not raw or raw[0] == 0x0A or not evm_txs.is_ethereum(raw):
            raise invalid(
                "not an Ethereum transaction: expected the signed RLP (legacy) or a typed "
                "transaction (0x01 or 0x02 followed by RLP)"
            )
        res = self.node.mempool.check_and_add(raw)
        if not res.ok:
            raise RpcError(hexio.SERVER_ERROR, _refusal(res.log))
        return hexdata(keccak(raw))

    # -- fees ------------------------------------------------------------------------------------
    def _recent_tips(self, blocks: int) -> list[int]:
        top = self.chain.latest()
        tips: list[int] = []
        for h in range(top, max(top - blocks, 0), -1):
            blk = self.chain.block(h)
            if blk is not None and blk.txs:
                fee = self.chain.base_fee(h)
                tips.extend(int(t.attrs.get("effective_gas_price", "0")) - fee for t in blk.txs)
        return tips

    def suggested_tip(self) -> int:
        """The median tip of the EVM txs of the last 20 blocks (0 when they had none:
        blocks are not full, and the base fee alone gets a tx in)."""
        tips = sorted(self._recent_tips(TIP_SAMPLE_BLOCKS))
        return max(tips[len(tips) // 2], 0) if tips else 0

    def gas_price(self, p: list[Any]) -> str:
        _, next_fee = self.chain.next_base_fee()
        return q(next_fee + self.suggested_tip())

    def fee_history(self, p: list[Any]) -> dict[str, Any]:
        count = min(hexio.quantity(p[0], "blockCount", 64), MAX_FEE_HISTORY_BLOCKS)
        newest = self.chain.resolve(hexio.block_tag(p[1], "newestBlock"))
        if newest is None:
            raise RpcError(hexio.SERVER_ERROR, "newestBlock not found")
        pct_raw = _arg(p, 2)
        if pct_raw is None:
            percentiles: list[float] = []
        elif not isinstance(pct_raw, list) or len(pct_raw) > MAX_PERCENTILES:
            raise invalid(f"rewardPercentiles: expected an array of at most {MAX_PERCENTILES}")
        else:
            percentiles = []
            for x in pct_raw:
                if isinstance(x, bool) or not isinstance(x, int | float) or not 0 <= x <= 100:
                    raise invalid("rewardPercentiles: each is a number in [0, 100]")
                if percentiles and x < percentiles[-1]:
                    raise invalid("rewardPercentiles: must be in increasing order")
                percentiles.append(float(x))
        if count == 0:
            return {"oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": []}
        oldest = max(newest - count + 1, self.chain.earliest())
        limit = self.chain.params().block_gas_limit
        fees, ratios, rewards = [], [], []
        for h in range(oldest, newest + 1):
            blk = self.chain.block(h)
            fee = self.chain.base_fee(h)
            fees.append(q(fee))
            ratios.append((blk.gas_used if blk else 0) / limit)
            if percentiles:
                rewards.append([q(r) for r in _rewards(blk, fee, percentiles)])
        fees.append(q(self.chain.base_fee(newest + 1)))
        out: dict[str, Any] = {
            "oldestBlock": q(oldest),
            "baseFeePerGas": fees,
            "gasUsedRatio": ratios,
        }
        if percentiles:
            out["reward"] = rewards
        return out

    # -- blocks and txs ---------------------------------------------------------------------
    def _block(self, tag_param: Any, what: str = "block") -> EthBlock | None:
        height = self.chain.resolve(hexio.block_tag(tag_param, what))
        return None if height is None else self.chain.block(height)

    def _block_json(self, blk: EthBlock | None, full: bool) -> dict[str, Any] | None:
        if blk is None:
            return None
        limit = self.chain.params().block_gas_limit
        return block_json(blk, self.chain.base_fee(blk.height), limit, full)

    def get_block(self, p: list[Any]) -> dict[str, Any] | None:
        full = flag(_arg(p, 1), "full transactions")
        return self._block_json(self._block(p[0]), full)

    def get_block_by_hash(self, p: list[Any]) -> dict[str, Any] | None:
        full = flag(_arg(p, 1), "full transactions")
        return self._block_json(self._block(hexdata(hexio.hash32(p[0], "block hash"))), full)

    def get_block_receipts(self, p: list[Any]) -> list[dict[str, Any]] | None:
        blk = self._block(p[0])
        return None if blk is None else [receipt_json(blk, t) for t in blk.txs]

    def tx_count(self, p: list[Any]) -> str | None:
        blk = self._block(p[0])
        return None if blk is None else q(len(blk.txs))

    def tx_count_by_hash(self, p: list[Any]) -> str | None:
        return self.tx_count([hexdata(hexio.hash32(p[0], "block hash"))])

    def tx_by_block_index(self, p: list[Any]) -> dict[str, Any] | None:
        blk = self._block(p[0])
        i = hexio.quantity(p[1], "index", 32)
        return tx_json(blk, blk.txs[i]) if blk is not None and i < len(blk.txs) else None

    def tx_by_block_hash_index(self, p: list[Any]) -> dict[str, Any] | None:
        return self.tx_by_block_index([hexdata(hexio.hash32(p[0], "block hash")), p[1]])

    def _uncle(self, p: list[Any], by_hash: bool) -> None:
        hexio.hash32(p[0], "block hash") if by_hash else hexio.block_tag(p[0])
        hexio.quantity(p[1], "index", 32)
        return None

    def _uncles(self, p: list[Any], by_hash: bool) -> str | None:
        tag = hexdata(hexio.hash32(p[0], "block hash")) if by_hash else p[0]
        return None if self._block(tag) is None else "0x0"

    def get_transaction_by_hash(self, p: list[Any]) -> dict[str, Any] | None:
        found = self.chain.find_tx(hexio.hash32(p[0], "transaction hash"))
        return None if found is None else tx_json(*found)

    def get_transaction_receipt(self, p: list[Any]) -> dict[str, Any] | None:
        found = self.chain.find_tx(hexio.hash32(p[0], "transaction hash"))
        return None if found is None else receipt_json(*found)

    def get_logs(self, p: list[Any]) -> list[dict[str, Any]]:
        lim = self.limits
        return find_logs(self.chain, lim.logs_max_blocks, lim.logs_max_results, p[0])


def _rewards(blk: EthBlock | None, base_fee: int, percentiles: list[float]) -> list[int]:
    """The tip at each gas-weighted percentile of the block's txs (0s for none)."""
    if blk is None or not blk.txs or not blk.gas_used:
        return [0 for _ in percentiles]
    tips = sorted(
        (int(t.attrs.get("effective_gas_price", "0")) - base_fee, t.gas_used) for t in blk.txs
    )
    out = []
    total = blk.gas_used
    for pct in percentiles:
        threshold = total * pct / 100
        acc = 0
        tip = tips[-1][0]
        for value, gas in tips:
            acc += gas
            if acc >= threshold:
                tip = value
                break
        out.append(max(tip, 0))
    return out


def _refusal(log_text: str) -> str:
    """A CheckTx refusal's log as the JSON-RPC message (the error name kept, for grep)."""
    return log_text or "transaction refused"


def _show_tag(tag: str | int) -> str:
    return q(tag) if isinstance(tag, int) else tag
