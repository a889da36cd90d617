"""The client's operations, written once for both clients ("sans I/O").

Each operation is a generator that yields what it needs done (an HTTP request, a
pause, a wait for the next block) and receives the answer; ``Client`` runs them
with blocking I/O and ``AsyncClient`` with asyncio, so both have the same behaviour.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from google.protobuf.message import Message

from vcoin_sdk.amounts import DENOM, Coin
from vcoin_sdk.artifacts import DEFAULT_TTL, Signer, artifact_token, auth_header
from vcoin_sdk.errors import (
    IntegrityError,
    NodeError,
    NotFound,
    QueryError,
    TxError,
    WaitTimeout,
)
from vcoin_sdk.keys import Key, parse_address
from vcoin_sdk.tx import SignedTx, sign_tx, tx_hash
from vcoin_sdk.types import FINAL_STATES, Account, Bond, Job, Reputation, TxResult

T = TypeVar("T")
GAS_ADJUSTMENT = 1.3
DEFAULT_GAS = 200_000
SDK = "sdk"
CODE_WRONG_SEQUENCE = 32


@dataclass(frozen=True)
class Http:
    """An HTTP request to the node's RPC (``rpc``) or REST (``rest``) endpoint."""

    method: str
    base: Literal["rpc", "rest"]
    path: str = ""
    json: Any = None
    content: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            msg = f"the node answered HTTP {self.status} without JSON"
            raise NodeError(msg, self.status) from e


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class NextBlock:
    """Until the node announces a new block (websocket) or ``timeout`` (polling)."""

    timeout: float


Step = Http | Sleep | NextBlock
Op = Generator[Step, Any, T]


@dataclass
class State:
    """What a client remembers between calls."""

    chain_id: str | None = None
    min_gas_price: int | None = None
    # sequences this client used that the last block may not show yet
    next_seq: dict[str, int] = field(default_factory=dict)
    rpc_ids: int = 0


# -- transport helpers ------------------------------------------------------------------


def rpc(st: State, method: str, **params: Any) -> Op[dict[str, Any]]:
    st.rpc_ids += 1
    body = {"jsonrpc": "2.0", "id": st.rpc_ids, "method": method, "params": params}
    reply: Reply = yield Http("POST", "rpc", "", json=body)
    d = reply.json()
    if not isinstance(d, dict):
        raise NodeError(f"{method}: the node answered with a non-object", reply.status)
    err = d.get("error")
    if err:
        if isinstance(err, dict):
            msg = str(err.get("message") or "error")
            data = err.get("data")
            raise NodeError(f"{method}: {msg}" + (f": {data}" if data else ""), reply.status, err)
        raise NodeError(f"{method}: {err}", reply.status, err)
    result = d.get("result")
    if not isinstance(result, dict):
        raise NodeError(f"{method}: the answer has no result (HTTP {reply.status})", reply.status)
    return result


def rest(method: str, path: str, body: Any = None) -> Op[Any]:
    reply: Reply = yield Http(method, "rest", path, json=body)
    if reply.status == 404:
        raise NotFound(_rest_message(reply) or f"{path}: not found")
    if reply.status >= 400:
        raise NodeError(f"{path}: HTTP {reply.status}: {_rest_message(reply)}", reply.status)
    return reply.json()


def _rest_message(reply: Reply) -> str:
    try:
        d = json.loads(reply.body)
    except ValueError:
        return reply.body[:300].decode(errors="replace")
    if isinstance(d, dict):
        return str(d.get("message") or d.get("detail") or d)
    return str(d)


def custom(st: State, module: str, name: str, req: dict[str, Any] | None = None) -> Op[Any]:
    """An app query ``/custom/<module>/<name>`` over the RPC's abci_query: JSON in and out."""
    data = json.dumps(req or {}, sort_keys=True).encode()
    res = yield from rpc(st, "abci_query", path=f"/custom/{module}/{name}", data=data.hex(),
                         height="0", prove=False)  # fmt: skip
    r = res.get("response") or {}
    code = int(r.get("code") or 0)
    if code != 0:
        codespace, log = str(r.get("codespace") or ""), str(r.get("log") or "")
        if "not found" in log.lower() or (codespace == SDK and code == 38):
            raise NotFound(f"{module}/{name}: {log}")
        raise QueryError(codespace, code, log)
    value = base64.b64decode(r.get("value") or "")
    return json.loads(value) if value else None


# -- chain info -------------------------------------------------------------------------


def status(st: State) -> Op[dict[str, Any]]:
    return (yield from rpc(st, "status"))


def chain_id(st: State) -> Op[str]:
    if st.chain_id is None:
        s = yield from status(st)
        st.chain_id = str(s["node_info"]["network"])
    return st.chain_id


def height(st: State) -> Op[int]:
    s = yield from status(st)
    return int(s["sync_info"]["latest_block_height"])


def min_gas_price(st: State) -> Op[int]:
    if st.min_gas_price is None:
        p = yield from custom(st, "auth", "params")
        st.min_gas_price = int(p.get("min_gas_price") or 0)
    return st.min_gas_price


# -- queries ----------------------------------------------------------------------------


def account(st: State, address: str) -> Op[Account | None]:
    addr = parse_address(address)
    try:
        d = yield from rest("GET", f"/cosmos/auth/v1beta1/accounts/{addr}")
    except NotFound:
        return None
    a = d["account"]
    a = a.get("base_account", a)
    pk = a.get("pub_key") or {}
    key = base64.b64decode(pk["key"]) if pk.get("key") else None
    return Account(str(a["address"]), int(a.get("account_number") or 0),
                   int(a.get("sequence") or 0), key)  # fmt: skip


def balances(st: State, address: str) -> Op[list[Coin]]:
    d = yield from rest("GET", f"/cosmos/bank/v1beta1/balances/{parse_address(address)}")
    return [Coin(c["denom"], int(c["amount"])) for c in d.get("balances") or []]


def balance(st: State, address: str, denom: str = DENOM) -> Op[int]:
    coins = yield from balances(st, address)
    return next((c.amount for c in coins if c.denom == denom), 0)


def job(st: State, job_id: int) -> Op[Job]:
    d = yield from custom(st, "jobs", "job", {"id": str(job_id)})
    return Job.of(d)


def jobs(
    st: State,
    *,
    poster: str | None = None,
    worker: str | None = None,
    state: str | None = None,
    limit: int = 1000,
) -> Op[list[Job]]:
    """Jobs of a poster, of a worker, or in a state (one of them), up to ``limit``."""
    given = [x for x in (poster, worker, state) if x]
    if len(given) != 1:
        raise ValueError("give exactly one of poster, worker or state")
    req: dict[str, Any] = {}
    if poster:
        req["poster"] = parse_address(poster)
    elif worker:
        req["worker"] = parse_address(worker)
    else:
        req["state"] = state
    out: list[Job] = []
    while len(out) < limit:
        d = yield from custom(st, "jobs", "jobs", {**req, "limit": str(min(100, limit - len(out)))})
        out += [Job.of(j) for j in d.get("jobs") or []]
        if not d.get("next_after"):
            break
        req["after"] = d["next_after"]
    return out


def bonds(st: State, address: str) -> Op[list[Bond]]:
    d = yield from custom(st, "staking", "bonds", {"address": parse_address(address)})
    return [Bond.of(b) for b in d.get("bonds") or []]


def reputation(st: State, address: str) -> Op[Reputation]:
    d = yield from custom(st, "reputation", "score", {"address": parse_address(address)})
    return Reputation.of(d)


def params(st: State, module: str) -> Op[dict[str, Any]]:
    d = yield from custom(st, module, "params")
    return dict(d or {})


def models(st: State) -> Op[list[dict[str, Any]]]:
    d = yield from custom(st, "jobs", "models")
    return list(d.get("models") or [])


def worker(st: State, address: str) -> Op[dict[str, Any]]:
    d = yield from custom(st, "jobs", "worker", {"address": parse_address(address)})
    return dict(d)


# -- transactions -----------------------------------------------------------------------


def _signer_account(st: State, key: Key) -> Op[Account]:
    acc = yield from account(st, key.address)
    if acc is None:
        raise NotFound(f"account {key.address} does not exist on chain; send it some VCN first")
    return acc


def build(
    st: State,
    key: Key,
    msgs: Sequence[Message],
    *,
    gas: int,
    fee: int | None = None,
    memo: str = "",
    acc: Account | None = None,
    sequence: int | None = None,
) -> Op[SignedTx]:
    acc = acc or (yield from _signer_account(st, key))
    cid = yield from chain_id(st)
    price = yield from min_gas_price(st)
    seq = max(acc.sequence, st.next_seq.get(key.address, 0)) if sequence is None else sequence
    return sign_tx(key, msgs, chain_id=cid, account_number=acc.account_number, sequence=seq,
                   gas_limit=gas, fee=gas * price if fee is None else fee, memo=memo)  # fmt: skip


def simulate(st: State, tx: SignedTx) -> Op[int]:
    """Gas the tx would use now, by the REST simulate endpoint (no signature check)."""
    d = yield from rest("POST", "/cosmos/tx/v1beta1/simulate", {"tx_bytes": tx.base64})
    return int((d.get("gas_info") or {}).get("gas_used") or 0)


def estimate_gas(
    st: State, key: Key, msgs: Sequence[Message], memo: str = "",
    adjustment: float = GAS_ADJUSTMENT,
) -> Op[int]:  # fmt: skip
    try:
        # priced as a real tx, so the fee's own transfer is part of the simulation
        tx = yield from build(st, key, msgs, gas=DEFAULT_GAS, memo=memo)
        used = yield from simulate(st, tx)
    except NodeError as e:
        if e.status == 400:
            raise _simulate_refusal(e) from e
        raise
    return math.ceil(used * adjustment)


def _simulate_refusal(e: NodeError) -> TxError:
    text = str(e)
    codespace, code = "", 0
    marker = "(codespace "
    if marker in text:
        tail = text.rsplit(marker, 1)[1].rstrip(")")
        parts = tail.replace(",", "").split()
        if len(parts) >= 3:
            codespace, code = parts[0], int(parts[2]) if parts[2].isdigit() else 0
    return TxError(codespace, code, f"simulation refused the tx: {text}", stage="check")


def broadcast(st: State, tx: SignedTx) -> Op[TxResult]:
    """broadcast_tx_sync: the CheckTx result (height 0)."""
    try:
        r = yield from rpc(st, "broadcast_tx_sync", tx=tx.base64)
    except NodeError as e:
        if "already exists in cache" not in str(e):
            raise
        r = {"code": 19, "codespace": SDK, "log": "tx already in the mempool", "hash": tx.hash}
    return TxResult.of(r.get("hash") or tx.hash, 0, r)


def get_tx(st: State, hash_: str) -> Op[TxResult | None]:
    raw = bytes.fromhex(hash_.removeprefix("0x"))
    try:
        r = yield from rpc(st, "tx", hash=base64.b64encode(raw).decode(), prove=False)
    except NodeError as e:
        if "not found" in str(e).lower():
            return None
        raise
    return TxResult.of(r.get("hash") or hash_, r.get("height"), r.get("tx_result") or {})


def wait_tx(st: State, hash_: str, timeout: float = 30.0, poll: float = 0.25) -> Op[TxResult]:
    waited = 0.0
    while True:
        r = yield from get_tx(st, hash_)
        if r is not None:
            return r
        if waited >= timeout:
            raise WaitTimeout(f"tx {hash_} was not in a block after {timeout:g}s")
        yield Sleep(poll)
        waited += poll


def send_tx(
    st: State,
    key: Key,
    msgs: Sequence[Message],
    *,
    gas: int | Literal["auto"] = "auto",
    fee: int | None = None,
    memo: str = "",
    wait: bool = True,
    timeout: float = 30.0,
) -> Op[TxResult]:
    """Sign for the chain's account number and next sequence, broadcast (sync) and, with
    ``wait``, wait for the block. ``gas="auto"`` simulates first (× 1.3); the fee is
    gas × the chain's minimum gas price unless given (avcn). A refusal raises ``TxError``."""
    gas_limit = (yield from estimate_gas(st, key, msgs, memo)) if gas == "auto" else gas
    for attempt in range(2):
        acc = yield from _signer_account(st, key)
        seq = max(acc.sequence, st.next_seq.get(key.address, 0))
        tx = yield from build(st, key, msgs, gas=gas_limit, fee=fee, memo=memo, acc=acc,
                              sequence=seq)  # fmt: skip
        res = yield from broadcast(st, tx)
        stale = res.codespace == SDK and res.code == CODE_WRONG_SEQUENCE
        if stale and attempt == 0 and seq != acc.sequence:
            st.next_seq.pop(key.address, None)  # the cache ran ahead of a dropped tx
            continue
        break
    if not res.ok:
        raise TxError(res.codespace, res.code, res.log, res.hash, stage="check")
    st.next_seq[key.address] = seq + 1
    if not wait:
        return res
    final = yield from wait_tx(st, tx.hash, timeout)
    if not final.ok:
        raise TxError(final.codespace, final.code, final.log, final.hash, stage="deliver")
    return final


def job_id_of(res: TxResult) -> int:
    ids = res.attributes("JobPosted", "job_id")
    if not ids:
        raise NodeError(f"tx {res.hash} posted no job (no JobPosted event)")
    return int(ids[0])


# -- results ----------------------------------------------------------------------------


def wait_job(
    st: State, job_id: int, timeout: float = 300.0, states: Sequence[str] = FINAL_STATES
) -> Op[Job]:
    """Until the job reaches one of ``states`` (default: a final one); after each new
    block (websocket), or every second when the websocket is not available."""
    waited = 0.0
    while True:
        j = yield from job(st, job_id)
        if j.state in states:
            return j
        if waited >= timeout:
            raise WaitTimeout(f"job {job_id} is {j.state!r} after {timeout:g}s, not {list(states)}")
        step = min(2.0, timeout - waited)
        took: float = yield NextBlock(step)
        waited += took


def _artifact_headers(key: Signer | None, op: Literal["get", "put"], digest: str,
                      ttl: int) -> tuple[tuple[str, str], ...]:  # fmt: skip
    return () if key is None else (auth_header(artifact_token(key, op, digest, ttl)),)


def _artifact_refusal(what: str, reply: Reply, signed: bool) -> NodeError:
    """The store's refusal: its ``{"error": code, "message": text}`` (``data``)."""
    try:
        d = json.loads(reply.body)
    except ValueError:
        d = None
    code = d.get("error") if isinstance(d, dict) else None
    msg = f"{what}: HTTP {reply.status}: " + (f"{code}: " if isinstance(code, str) else "")
    msg += _rest_message(reply)
    if reply.status == 401 and not signed:
        msg += " (the node wants a token: pass the key of an account that may read it)"
    return NodeError(msg, reply.status, d)


def fetch_artifact(
    st: State, digest: str, key: Signer | None = None, ttl: int = DEFAULT_TTL
) -> Op[bytes]:
    """The blob ``digest`` (sha256 hex) from the node's artifact store, hash-checked.
    With ``key``, the request carries that account's token (``vcoin_sdk.artifacts``):
    a blob that is not public is served only to an account allowed to read it."""
    digest = digest.lower()
    headers = _artifact_headers(key, "get", digest, ttl)
    reply: Reply = yield Http("GET", "rest", f"/artifacts/{digest}", headers=headers)
    if reply.status == 404:
        raise NotFound(f"artifact {digest} is not in the node's store")
    if reply.status >= 400:
        raise _artifact_refusal(f"artifact {digest}", reply, key is not None)
    got = hashlib.sha256(reply.body).hexdigest()
    if got != digest:
        raise IntegrityError(f"artifact {digest}: the bytes fetched hash to {got}")
    return reply.body


def put_artifact(st: State, key: Signer, data: bytes, ttl: int = DEFAULT_TTL) -> Op[str]:
    """Upload ``data`` signed by ``key`` (the uploader's account); its sha256 hex."""
    digest = hashlib.sha256(data).hexdigest()
    headers = _artifact_headers(key, "put", digest, ttl)
    reply: Reply = yield Http("PUT", "rest", f"/artifacts/{digest}", content=data,
                              headers=headers)  # fmt: skip
    if reply.status >= 400:
        raise _artifact_refusal("artifact upload", reply, True)
    return digest


def job_output(st: State, job_id: int, key: Signer | None = None) -> Op[bytes]:
    """A settled job's output, fetched by its recorded output hash and checked; with
    ``key`` (the poster's, the worker's or an oracle's) when the output is not public."""
    j = yield from job(st, job_id)
    if not j.output_hash:
        raise NotFound(f"job {job_id} is {j.state!r} and has no output yet")
    return (yield from fetch_artifact(st, j.output_hash, key))


__all__ = ["Op", "State", "tx_hash"]
