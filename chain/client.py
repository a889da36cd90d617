"""A Python client of the node RPC (CometBFT's JSON-RPC 2.0 over HTTP POST).

The methods speak CometBFT's documented shapes, so the same client works
against the solo node and a CometBFT validator: tx bytes go base64 in
``broadcast_tx_*``; ``abci_query`` takes ``data`` as hex and answers with
``result.response.value`` base64; int64 fields travel as decimal strings.

On top sit the calls wallets, workers and oracles need: ``query`` (the
app's ``/custom/<module>/<name>`` JSON queries), ``account``, ``balance``,
``simulate``, ``send_tx`` (fetch account number and sequence, sign, broadcast)
and ``wait_tx``. A refusal by the chain raises ``TxFailed`` or
``QueryFailed`` carrying its codespace, code and log, so callers can act on
the code; a transport or JSON-RPC failure raises ``RpcError``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from google.protobuf.message import Message

from chain.coins import DENOM
from chain.crypto import PrivateKey
from chain.tx.sign import sign_tx

DEFAULT_RPC = "http://127.0.0.1:26657"
DEFAULT_GAS = 200_000
GAS_ADJUSTMENT = 1.3
SDK = "sdk"
CODE_WRONG_SEQUENCE = 32
CODE_NOT_FOUND = 38
BroadcastMode = Literal["commit", "sync"]


class NodeError(Exception):
    """Anything that kept a request to the node from giving an answer."""


class RpcError(NodeError):
    """The node could not be reached, or answered with a JSON-RPC error."""

    def __init__(self, message: str, code: int = 0, data: str = "") -> None:
        super().__init__(f"{message}: {data}" if data else message)
        self.code = code
        self.rpc_message = message
        self.data = data


class ChainRefused(NodeError):
    """The chain answered and said no: a registered (codespace, code) and a log."""

    def __init__(self, codespace: str, code: int, log: str) -> None:
        super().__init__(f"{codespace}/{code}: {log}" if codespace else f"code {code}: {log}")
        self.codespace = codespace
        self.code = code
        self.log = log


class QueryFailed(ChainRefused):
    pass


class TxFailed(ChainRefused):
    """A tx was refused in CheckTx (``stage="check"``, nothing happened) or
    failed in its block (``stage="deliver"``: fee paid, sequence used)."""

    def __init__(self, response: TxResponse, stage: Literal["check", "deliver"]) -> None:
        super().__init__(response.codespace, response.code, response.log)
        self.response = response
        self.stage = stage
        self.hash = response.hash
        self.height = response.height


class TxTimeout(NodeError):
    pass


def _int(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    return base64.b64decode(text) if text else b""


def tx_hash(raw: bytes) -> str:
    """The hash CometBFT indexes a tx by: sha256 of its bytes, upper-case hex."""
    return hashlib.sha256(raw).hexdigest().upper()


@dataclass(frozen=True)
class TxResponse:
    hash: str
    height: int = 0
    code: int = 0
    codespace: str = ""
    log: str = ""
    gas_wanted: int = 0
    gas_used: int = 0
    data: bytes = b""
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == 0

    @classmethod
    def of(cls, hash_: str, height: Any, result: dict[str, Any]) -> TxResponse:
        """From a CometBFT ExecTxResult / CheckTx response object."""
        return cls(
            hash=str(hash_).upper(),
            height=_int(height),
            code=_int(result.get("code")),
            codespace=str(result.get("codespace") or ""),
            log=str(result.get("log") or ""),
            gas_wanted=_int(result.get("gas_wanted")),
            gas_used=_int(result.get("gas_used")),
            data=_unb64(result.get("data")),
            events=list(result.get("events") or []),
        )

    def attributes(self, event_type: str, key: str) -> list[str]:
        """Values of attribute ``key`` in events of ``event_type``, in order."""
        return [
            str(a.get("value", ""))
            for e in self.events
            if e.get("type") == event_type
            for a in e.get("attributes") or []
            if a.get("key") == key
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "height": self.height,
            "code": self.code,
            "codespace": self.codespace,
            "log": self.log,
            "gas_wanted": self.gas_wanted,
            "gas_used": self.gas_used,
            "events": self.events,
        }


@dataclass(frozen=True)
class QueryResponse:
    code: int
    codespace: str
    log: str
    key: bytes
    value: bytes
    height: int
    proof_ops: Any = None


@dataclass(frozen=True)
class Account:
    address: str
    account_number: int
    sequence: int
    pub_key: str | None = None


# CometBFT answers a tx its mempool cache holds (pending or recently committed)
# with a JSON-RPC error rather than a CheckTx result; the solo node's mempool
# answers a pending one with sdk/19. Both reach callers as sdk/19.
_IN_CACHE = "tx already exists in cache"


def _cached_tx(raw: bytes, e: RpcError) -> dict[str, Any]:
    """The CheckTx-shaped refusal for a tx CometBFT's cache already holds; re-raises
    any other RPC error."""
    if _IN_CACHE not in str(e):
        raise e
    return {
        "code": 19,
        "codespace": SDK,
        "log": f"tx {tx_hash(raw)} is already in the mempool or was just committed "
        "(CometBFT's mempool cache holds it); look it up with its hash",
        "hash": tx_hash(raw),
    }


class NodeClient:
    """A client of one node's RPC endpoint. Thread-compatible, not thread-safe."""

    def __init__(
        self,
        rpc_url: str = DEFAULT_RPC,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.rpc_url = rpc_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self._chain_id: str | None = None
        self._min_gas_price: int | None = None
        # Sequences this client used but the last commit may not show yet, so
        # back-to-back sync broadcasts from one key do not reuse a sequence.
        self._next_seq: dict[str, int] = {}

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- JSON-RPC ----------------------------------------------------------
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One JSON-RPC 2.0 call; returns ``result`` or raises RpcError."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            r = self._http.post(self.rpc_url, json=body)
        except httpx.HTTPError as e:
            raise RpcError(f"cannot reach the node at {self.rpc_url} ({e}); is it running?") from e
        try:
            reply = r.json()
        except ValueError as e:
            raise RpcError(f"{method}: the node answered HTTP {r.status_code} without JSON") from e
        if not isinstance(reply, dict):
            raise RpcError(f"{method}: the node answered with a non-object")
        err = reply.get("error")
        if err:
            if not isinstance(err, dict):
                raise RpcError(f"{method}: {err}")
            raise RpcError(
                str(err.get("message") or "error"),
                _int(err.get("code")),
                str(err.get("data") or ""),
            )
        result = reply.get("result")
        if not isinstance(result, dict):
            raise RpcError(f"{method}: the node's answer has no result (HTTP {r.status_code})")
        return result

    def status(self) -> dict[str, Any]:
        return self.call("status")

    def block(self, height: int | None = None) -> dict[str, Any]:
        return self.call("block", **({} if height is None else {"height": str(height)}))

    def block_results(self, height: int | None = None) -> dict[str, Any]:
        return self.call("block_results", **({} if height is None else {"height": str(height)}))

    def tx(self, hash_: str, prove: bool = False) -> dict[str, Any]:
        """The raw ``tx`` result; ``hash_`` as hex (the JSON-RPC param is base64)."""
        raw = bytes.fromhex(hash_.removeprefix("0x").removeprefix("0X"))
        return self.call("tx", hash=_b64(raw), prove=prove)

    def tx_search(
        self,
        query: str,
        *,
        page: int = 1,
        per_page: int = 30,
        order_by: Literal["asc", "desc"] = "asc",
        prove: bool = False,
    ) -> dict[str, Any]:
        return self.call(
            "tx_search",
            query=query,
            prove=prove,
            page=str(page),
            per_page=str(per_page),
            order_by=order_by,
        )

    def broadcast_tx_sync(self, raw: bytes) -> dict[str, Any]:
        try:
            return self.call("broadcast_tx_sync", tx=_b64(raw))
        except RpcError as e:
            return _cached_tx(raw, e)

    def broadcast_tx_commit(self, raw: bytes) -> dict[str, Any]:
        try:
            return self.call("broadcast_tx_commit", tx=_b64(raw))
        except RpcError as e:
            return {"hash": tx_hash(raw), "height": "0", "check_tx": _cached_tx(raw, e)}

    def abci_query(
        self, path: str, data: bytes = b"", height: int = 0, prove: bool = False
    ) -> QueryResponse:
        res = self.call("abci_query", path=path, data=data.hex(), height=str(height), prove=prove)
        r = res.get("response") or {}
        return QueryResponse(
            code=_int(r.get("code")),
            codespace=str(r.get("codespace") or ""),
            log=str(r.get("log") or ""),
            key=_unb64(r.get("key")),
            value=_unb64(r.get("value")),
            height=_int(r.get("height")),
            proof_ops=r.get("proofOps") or r.get("proof_ops"),
        )

    # -- helpers -----------------------------------------------------------
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(self.status()["node_info"]["network"])
        return self._chain_id

    def latest_height(self) -> int:
        return _int(self.status()["sync_info"]["latest_block_height"])

    def query(self, module: str, name: str, req: dict[str, Any] | None = None) -> Any:
        """An app query ``/custom/<module>/<name>``: JSON in, JSON out."""
        data = json.dumps(req or {}, sort_keys=True).encode()
        r = self.abci_query(f"/custom/{module}/{name}", data)
        if r.code != 0:
            raise QueryFailed(r.codespace, r.code, r.log)
        return json.loads(r.value) if r.value else None

    def account(self, address: str) -> Account | None:
        """The account, or None when the chain has never seen the address."""
        try:
            d = self.query("auth", "account", {"address": address})
        except QueryFailed as e:
            if e.codespace == SDK and e.code == CODE_NOT_FOUND:
                return None
            raise
        return Account(
            address=str(d["address"]),
            account_number=_int(d.get("account_number")),
            sequence=_int(d.get("sequence")),
            pub_key=d.get("pub_key"),
        )

    def balance(self, address: str, denom: str = DENOM) -> int:
        d = self.query("bank", "balance", {"address": address, "denom": denom})
        return _int(d["balance"]["amount"])

    def min_gas_price(self) -> int:
        if self._min_gas_price is None:
            self._min_gas_price = _int(self.query("auth", "params").get("min_gas_price"))
        return self._min_gas_price

    def simulate(self, raw: bytes) -> int:
        """Gas the tx would use now (its signature is not checked)."""
        r = self.abci_query("/app/simulate", raw)
        if r.code != 0:
            raise QueryFailed(r.codespace, r.code, r.log)
        return _int(json.loads(r.value)["gas_used"])

    # -- transactions ------------------------------------------------------
    def build_tx(
        self,
        key: PrivateKey,
        msgs: Sequence[Message],
        *,
        gas: int = DEFAULT_GAS,
        fee: int | None = None,
        memo: str = "",
        account: Account | None = None,
        sequence: int | None = None,
    ) -> bytes:
        """Sign ``msgs`` for the chain's current account number and sequence."""
        acc = account or self.account(key.bech32)
        if acc is None:
            raise QueryFailed(
                SDK, 9, f"account {key.bech32} does not exist on chain; send it some VCN first"
            )
        return sign_tx(
            key,
            msgs,
            chain_id=self.chain_id(),
            account_number=acc.account_number,
            sequence=acc.sequence if sequence is None else sequence,
            gas_limit=gas,
            fee_amount=gas * self.min_gas_price() if fee is None else fee,
            memo=memo,
        )

    def estimate_gas(
        self,
        key: PrivateKey,
        msgs: Sequence[Message],
        *,
        memo: str = "",
        adjustment: float = GAS_ADJUSTMENT,
    ) -> int:
        """Simulated gas × ``adjustment``, rounded up (what ``--gas auto`` uses)."""
        acc = self.account(key.bech32)
        seq = None if acc is None else max(acc.sequence, self._next_seq.get(key.bech32, 0))
        raw = self.build_tx(key, msgs, memo=memo, account=acc, sequence=seq)
        return math.ceil(self.simulate(raw) * adjustment)

    def send_tx(
        self,
        key: PrivateKey,
        msgs: Sequence[Message],
        *,
        gas: int | Literal["auto"] = DEFAULT_GAS,
        fee: int | None = None,
        memo: str = "",
        mode: BroadcastMode = "commit",
        check: bool = True,
    ) -> TxResponse:
        """Sign and broadcast. ``mode="commit"`` waits for the block; ``"sync"``
        returns after CheckTx (height 0). ``fee`` in avcn defaults to gas ×
        the chain's min gas price. With ``check`` a refusal raises TxFailed."""
        gas_limit = self.estimate_gas(key, msgs, memo=memo) if gas == "auto" else gas
        for attempt in range(2):
            acc = self.account(key.bech32)
            if acc is None:
                raise QueryFailed(
                    SDK, 9, f"account {key.bech32} does not exist on chain; send it some VCN first"
                )
            seq = max(acc.sequence, self._next_seq.get(key.bech32, 0))
            raw = self.build_tx(
                key, msgs, gas=gas_limit, fee=fee, memo=memo, account=acc, sequence=seq
            )
            resp, stage = self._broadcast(raw, mode)
            stale = stage == "check" and resp.codespace == SDK and resp.code == CODE_WRONG_SEQUENCE
            if stale and attempt == 0 and seq != acc.sequence:
                self._next_seq.pop(key.bech32, None)  # our cache ran ahead of a dropped tx
                continue
            break
        if stage != "check" or resp.ok:
            self._next_seq[key.bech32] = seq + 1
        if check and not resp.ok:
            raise TxFailed(resp, "check" if stage == "check" else "deliver")
        return resp

    def _broadcast(self, raw: bytes, mode: BroadcastMode) -> tuple[TxResponse, str]:
        """Broadcast; return the response and the stage it stopped at."""
        if mode == "sync":
            r = self.broadcast_tx_sync(raw)
            return TxResponse.of(r.get("hash") or tx_hash(raw), 0, r), "check"
        r = self.broadcast_tx_commit(raw)
        hash_ = r.get("hash") or tx_hash(raw)
        check = r.get("check_tx") or {}
        if _int(check.get("code")) != 0:
            return TxResponse.of(hash_, 0, check), "check"
        deliver = r.get("tx_result") or r.get("deliver_tx") or {}
        return TxResponse.of(hash_, r.get("height"), deliver), "deliver"

    def get_tx(self, hash_: str) -> TxResponse | None:
        """The tx's result once it is in a block, or None if the node has not indexed it."""
        try:
            r = self.tx(hash_)
        except RpcError as e:
            if "not found" in str(e).lower():
                return None
            raise
        return TxResponse.of(r.get("hash") or hash_, r.get("height"), r.get("tx_result") or {})

    def wait_tx(self, hash_: str, timeout: float = 30.0, poll: float = 0.25) -> TxResponse:
        """Wait until the tx is in a block and return its result (which may be a failure)."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.get_tx(hash_)
            if resp is not None:
                return resp
            if time.monotonic() >= deadline:
                raise TxTimeout(f"tx {hash_} was not in a block after {timeout:g}s")
            time.sleep(poll)
