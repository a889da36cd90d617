"""The Cosmos REST API (gRPC-gateway routes) that wallets such as cosmpy's LedgerClient use.

    auth        /cosmos/auth/v1beta1/accounts/{address}, account_info/{address}, params
    bank        /cosmos/bank/v1beta1/balances/{address}[/by_denom], supply[/by_denom],
                params, denoms_metadata
    tx          POST /cosmos/tx/v1beta1/simulate, POST and GET /cosmos/tx/v1beta1/txs,
                GET /cosmos/tx/v1beta1/txs/{hash}
    tendermint  /cosmos/base/tendermint/v1beta1/blocks/latest, blocks/{height},
                node_info, syncing
    consensus   /cosmos/consensus/v1/params;  node  /cosmos/base/node/v1beta1/config
    openapi     /openapi.json (every route, the app's included); the app adds Swagger UI

Every GET answers ``Access-Control-Allow-Origin: *`` to a browser on another origin.

An ``{address}`` in a path is ``vcoin1…`` or its ``0x…`` form (EIP-55; all lower or
all upper case hex carries no checksum); an account's ``pub_key`` is a
``/cosmos.crypto.secp256k1.PubKey`` or ``/ethermint.crypto.v1.ethsecp256k1.PubKey``.

Answers are the SDK's proto messages in the gateway's JSON; errors are the
gateway's ``{"code", "message", "details"}`` with the matching HTTP status:
4xx for what the client got wrong (a body over ``rest_max_body_bytes`` is
413), 500 only for a bug in the node, logged with the request id it answers.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from cosmpy.protos.cosmos.auth.v1beta1 import auth_pb2
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2 as auth_q
from cosmpy.protos.cosmos.bank.v1beta1 import bank_pb2
from cosmpy.protos.cosmos.bank.v1beta1 import query_pb2 as bank_q
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageResponse
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2 as tm_q
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2 as tx_s
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxRaw
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.message import Message
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from chain.artifact_gc import start_gc
from chain.artifact_policy import ChainPolicy
from chain.artifacts import ArtifactStore, artifact_router
from chain.crypto import AddressError, parse_address, to_bech32
from chain.errors import ChainError, ErrNotFound
from chain.rest import encode as enc
from chain.rest import info
from chain.rest.errors import (
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    RestError,
    bad_request,
    not_found,
    rest_error_json,
)
from chain.rest.params import (
    event_condition,
    int_param,
    is_tx_hash,
    json_body,
    parse_body,
    whole_number,
)
from chain.rpc import jsonbody, txsearch
from chain.rpc.guard import Guard
from chain.rpc.query import QueryError, parse
from chain.tx.ethsecp256k1 import TYPE_URL as ETH_PUBKEY_URL  # registers its type for JSON
from chain.version import VERSION

if TYPE_CHECKING:
    from chain.nodeview import NodeView

log = logging.getLogger("vcoin.rest")
API_DESCRIPTION = (
    "Cosmos SDK gateway routes (auth, bank, tx, tendermint) and the VCoin modules' "
    "routes (/vcoin/<module>/v1/…). Errors: {code, message, details}."
)
DEFAULT_LIMIT = 100


def _pack(msg: Message) -> AnyPb:
    a = AnyPb()
    a.Pack(msg, type_url_prefix="/")
    return a


def path_address(text: str) -> str:
    """An address path parameter, ``vcoin1…`` or ``0x…`` (EIP-55), as bech32 for the
    app's queries; a bad ``0x`` address is a 400 that says what is wrong."""
    if text[:2] not in ("0x", "0X"):
        return text  # bech32 (or not): the query checks it and says what is wrong
    try:
        return to_bech32(parse_address(text))
    except AddressError as e:
        raise bad_request(str(e)) from e


class RestService:
    def __init__(self, node: NodeView) -> None:
        self.node = node
        self.async_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rest-async")

    def custom(self, module: str, name: str, req: dict[str, Any]) -> Any:
        """An app query; chain refusals become gateway errors."""
        try:
            return self.node.custom_query(module, name, req)
        except ChainError as e:
            if e.kind is ErrNotFound:
                raise not_found(e.message) from e
            raise bad_request(e.message) from e

    # -- auth --------------------------------------------------------------------
    def base_account(self, address: str) -> tuple[Message, dict[str, Any]]:
        try:
            d = self.custom("auth", "account", {"address": path_address(address)})
        except RestError as e:
            if e.code == NOT_FOUND:
                raise not_found(f"account {address} not found") from e
            raise
        pk = None
        if d.get("pub_key"):
            pk = _pack(PubKey(key=bytes.fromhex(d["pub_key"])))
            if d.get("pub_key_type") == "eth_secp256k1":
                pk.type_url = ETH_PUBKEY_URL  # Ethermint's type, the same shape
        base = auth_pb2.BaseAccount(
            address=d["address"],
            pub_key=pk,
            account_number=int(d["account_number"]),
            sequence=int(d["sequence"]),
        )
        return base, d

    def account(self, address: str) -> dict[str, Any]:
        base, d = self.base_account(address)
        acc: Message = base
        if "name" in d:
            acc = auth_pb2.ModuleAccount(
                base_account=base, name=d["name"], permissions=d.get("permissions") or []
            )
        return enc.to_json(auth_q.QueryAccountResponse(account=_pack(acc)))

    def auth_params(self) -> dict[str, Any]:
        p = self.custom("auth", "params", {})
        params = auth_pb2.Params(
            max_memo_characters=p["max_memo_characters"],
            tx_sig_limit=p["tx_sig_limit"],
            tx_size_cost_per_byte=p["tx_size_cost_per_byte"],
            sig_verify_cost_ed25519=0,  # ed25519 account keys are not accepted
            sig_verify_cost_secp256k1=p["sig_verify_cost_secp256k1"],
        )
        return enc.to_json(auth_q.QueryParamsResponse(params=params))

    # -- bank --------------------------------------------------------------------
    def balances(self, address: str) -> dict[str, Any]:
        req = {"address": path_address(address)}
        coins = self.custom("bank", "all_balances", req)["balances"]
        return enc.to_json(
            bank_q.QueryAllBalancesResponse(
                balances=[Coin(**c) for c in coins], pagination=PageResponse(total=len(coins))
            )
        )

    def balance(self, address: str, denom: str) -> dict[str, Any]:
        if not denom:
            raise bad_request("invalid denom: give ?denom=avcn")
        req = {"address": path_address(address), "denom": denom}
        b = self.custom("bank", "balance", req)["balance"]
        return enc.to_json(bank_q.QueryBalanceResponse(balance=Coin(**b)))

    def supply(self) -> dict[str, Any]:
        coins = self.custom("bank", "total_supply", {})["supply"]
        return enc.to_json(
            bank_q.QueryTotalSupplyResponse(
                supply=[Coin(**c) for c in coins], pagination=PageResponse(total=len(coins))
            )
        )

    def supply_of(self, denom: str) -> dict[str, Any]:
        if not denom:
            raise bad_request("invalid denom: give ?denom=avcn")
        amount = self.custom("bank", "supply_of", {"denom": denom})["amount"]
        return enc.to_json(bank_q.QuerySupplyOfResponse(amount=Coin(**amount)))

    def bank_params(self) -> dict[str, Any]:
        p = self.custom("bank", "params", {})
        params = bank_pb2.Params(default_send_enabled=bool(p.get("send_enabled", True)))
        return enc.to_json(bank_q.QueryParamsResponse(params=params))

    def denoms_metadata(self) -> dict[str, Any]:
        metas = self.custom("bank", "denom_metadata", {})["metadatas"]
        resp = bank_q.QueryDenomsMetadataResponse(
            metadatas=[json_format.ParseDict(m, bank_pb2.Metadata()) for m in metas],
            pagination=PageResponse(total=len(metas)),
        )
        return enc.to_json(resp)

    # -- tx ----------------------------------------------------------------------
    def simulate(self, body: Any) -> dict[str, Any]:
        req = parse_body(body, tx_s.SimulateRequest())
        if req.tx_bytes:
            raw = req.tx_bytes
        elif req.HasField("tx"):
            raw = TxRaw(
                body_bytes=req.tx.body.SerializeToString(),
                auth_info_bytes=req.tx.auth_info.SerializeToString(),
                signatures=list(req.tx.signatures),
            ).SerializeToString()
        else:
            raise bad_request("empty txBytes is not allowed: send tx_bytes (base64) or tx")
        r = self.node.simulate(raw)
        if not r.ok:
            raise bad_request(
                f"{r.log}: with gas wanted: '{r.gas_wanted}' and gas used: '{r.gas_used}' "
                f"(codespace {r.codespace}, code {r.code})"
            )
        result = {
            "log": r.log,
            "events": [e.to_json() for e in r.events],
            "data": r.data,
        }
        resp = tx_s.SimulateResponse(
            gas_info=info.gas_info(r.gas_wanted, r.gas_used),
            result=info.abci_result(result),
        )
        return enc.to_json(resp)

    def broadcast(self, body: Any) -> dict[str, Any]:
        req = parse_body(body, tx_s.BroadcastTxRequest())
        if not req.tx_bytes:
            raise bad_request("invalid empty tx: send tx_bytes, the signed TxRaw in base64")
        raw = bytes(req.tx_bytes)
        h = hashlib.sha256(raw).digest()
        if req.mode == tx_s.BROADCAST_MODE_SYNC:
            r = self.node.mempool.check_and_add(raw)
            self.node.metrics.checktx.labels("ok" if r.ok else "rejected").inc()
            result = {
                "code": r.code,
                "codespace": r.codespace,
                "log": r.log,
                "gas_wanted": r.gas_wanted,
                "gas_used": r.gas_used,
                "events": [],
            }
            return {"tx_response": enc.tx_response_json(0, h, result, None, 0)}
        if req.mode == tx_s.BROADCAST_MODE_ASYNC:
            self.async_checks.submit(self.node.mempool.check_and_add, raw)
            return {"tx_response": enc.tx_response_json(0, h, {}, None, 0)}
        if req.mode == tx_s.BROADCAST_MODE_BLOCK:
            raise bad_request(
                "BROADCAST_MODE_BLOCK is not supported (as in Cosmos SDK 0.47+); broadcast with "
                "BROADCAST_MODE_SYNC and poll GET /cosmos/tx/v1beta1/txs/{hash}"
            )
        raise bad_request(
            "unsupported broadcast mode; supported modes: BROADCAST_MODE_SYNC, BROADCAST_MODE_ASYNC"
        )

    def get_tx(self, hash_hex: str) -> dict[str, Any]:
        if not is_tx_hash(hash_hex):
            raise bad_request(
                f"tx hash {jsonbody.describe(hash_hex)} is not 64 hex digits (a sha256)"
            )
        h = bytes.fromhex(hash_hex)
        found = txsearch.find_tx(self.node, h)
        if found is None:
            raise not_found(f"tx not found: {hash_hex.upper()}")
        tx = enc.decode_tx(found.tx)
        return {
            "tx": None if tx is None else enc.tx_json(tx),
            "tx_response": enc.tx_response_json(
                found.height, found.hash, found.result, tx, found.time_ns
            ),
        }

    def search_txs(
        self, query: str, events: list[str], page: int, limit: int, desc: bool
    ) -> dict[str, Any]:
        conditions = [query] if query else [event_condition(e) for e in events]
        if not conditions:
            raise bad_request("query cannot be empty: give ?query=message.sender='vcoin1…'")
        text = " AND ".join(conditions)
        try:
            q = parse(text)
        except QueryError as e:
            raise bad_request(f"failed to parse query {text!r}: {e}") from e
        found = txsearch.search(self.node, q)
        if desc:
            found.reverse()
        page = max(page, 1)
        limit = DEFAULT_LIMIT if limit < 1 else min(limit, DEFAULT_LIMIT)
        chunk = found[(page - 1) * limit : page * limit]
        txs, responses = [], []
        for f in chunk:
            tx = enc.decode_tx(f.tx)
            txs.append(None if tx is None else enc.tx_json(tx))
            responses.append(enc.tx_response_json(f.height, f.hash, f.result, tx, f.time_ns))
        return {"txs": txs, "tx_responses": responses, "pagination": None, "total": str(len(found))}

    # -- blocks ------------------------------------------------------------------
    def block(self, height: int | None) -> dict[str, Any]:
        latest = self.node.app_info().last_block_height
        if height is None:
            if latest < 1:
                raise not_found("no block has been committed yet; retry in a moment")
            height = latest
            cls: type[Message] = tm_q.GetLatestBlockResponse
        else:
            cls = tm_q.GetBlockByHeightResponse
            if height > latest:
                raise bad_request(
                    f"requested block height {height} is bigger than the chain length {latest}"
                )
            if height < 1:
                raise bad_request(f"height must be greater than 0, got {height}")
        blk = self.node.blocks.block(height)
        if blk is None:
            raise not_found(f"block {height} is not available (lowest: {self.node.blocks.base()})")
        return enc.block_response(blk, cls)


def build_rest_app(node: NodeView) -> FastAPI:
    svc = RestService(node)
    app = FastAPI(
        title="VCoin REST API",
        version=VERSION,
        description=API_DESCRIPTION,
        docs_url=None,  # the app serves Swagger UI from its own files (app/rest/swagger.py)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.rest = svc
    get, post = app.get, app.post
    auth, bank, txp = "/cosmos/auth/v1beta1", "/cosmos/bank/v1beta1", "/cosmos/tx/v1beta1"
    tm = "/cosmos/base/tendermint/v1beta1"

    @get(auth + "/accounts/{address}")
    def account(address: str) -> dict[str, Any]:
        return svc.account(address)

    @get(auth + "/account_info/{address}")
    def account_info(address: str) -> dict[str, Any]:
        base, _ = svc.base_account(address)
        return enc.to_json(auth_q.QueryAccountInfoResponse(info=base))

    @get(auth + "/params")
    def auth_params() -> dict[str, Any]:
        return svc.auth_params()

    @get(bank + "/balances/{address}")
    def balances(address: str) -> dict[str, Any]:
        return svc.balances(address)

    @get(bank + "/balances/{address}/by_denom")
    def balance(address: str, request: Request) -> dict[str, Any]:
        return svc.balance(address, request.query_params.get("denom", ""))

    @get(bank + "/supply")
    def supply() -> dict[str, Any]:
        return svc.supply()

    @get(bank + "/supply/by_denom")
    def supply_by_denom(request: Request) -> dict[str, Any]:
        return svc.supply_of(request.query_params.get("denom", ""))

    @get(bank + "/supply/{denom}")
    def supply_of(denom: str) -> dict[str, Any]:
        return svc.supply_of(denom)

    @get(bank + "/params")
    def bank_params() -> dict[str, Any]:
        return svc.bank_params()

    @get(bank + "/denoms_metadata")
    def denoms_metadata() -> dict[str, Any]:
        return svc.denoms_metadata()

    @post(txp + "/simulate")
    async def simulate(request: Request) -> Response:
        body = await json_body(request)
        return _json(await _threaded(svc.simulate, body))

    @post(txp + "/txs")
    async def broadcast(request: Request) -> Response:
        body = await json_body(request)
        return _json(await _threaded(svc.broadcast, body))

    @get(txp + "/txs")
    def search_txs(request: Request) -> dict[str, Any]:
        qp = request.query_params
        order = qp.get("order_by", "")
        return svc.search_txs(
            qp.get("query", ""),
            qp.getlist("events"),
            int_param(request, "page", default=1),
            int_param(request, "limit", "pagination.limit", default=DEFAULT_LIMIT),
            order in ("ORDER_BY_DESC", "2"),
        )

    @get(txp + "/txs/{tx_hash}")
    def get_tx(tx_hash: str) -> dict[str, Any]:
        return svc.get_tx(tx_hash)

    @get(tm + "/blocks/latest")
    def latest_block() -> dict[str, Any]:
        return svc.block(None)

    @get(tm + "/blocks/{height}")
    def block_by_height(height: str) -> dict[str, Any]:
        return svc.block(whole_number("height", height))

    @get(tm + "/node_info")
    def node_info() -> dict[str, Any]:
        return info.node_info(node)

    @get(tm + "/syncing")
    def syncing() -> dict[str, Any]:
        return enc.to_json(tm_q.GetSyncingResponse(syncing=False))

    @get("/cosmos/consensus/v1/params")
    def consensus_params() -> dict[str, Any]:
        return info.consensus_params(node.genesis)

    @get("/cosmos/base/node/v1beta1/config")
    def node_config() -> dict[str, Any]:
        return info.node_config(svc.custom("auth", "params", {}))

    @get("/metrics")
    def metrics() -> Response:
        """Prometheus text, as the node RPC's /metrics (and the Cosmos SDK's API
        server's); a CometBFT-mode node has no RPC server of its own."""
        node.metrics.mempool_txs.set(len(node.mempool))
        node.metrics.mempool_bytes.set(node.mempool.size_bytes)
        return Response(node.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # Content-addressed blobs (job inputs, outputs, model weights) on the same port;
    # its routes answer their own errors, streamed, never holding a blob in memory.
    # Uploads need a token; reads follow the chain's rules; GC runs in the background.
    cfg = node.cfg
    store = ArtifactStore.local(cfg.artifact_dir, cfg.artifact_max_bytes, cfg.artifact_quota_bytes)
    rules = ChainPolicy(node, store.read_small)
    app.include_router(artifact_router(store, rules, require_token=True))
    app.state.artifact_store, app.state.artifact_policy = store, rules
    start_gc(store, rules, cfg.artifact_retention_s, cfg.artifact_gc_interval_s, node.stopped)

    @app.exception_handler(RestError)
    async def rest_error(request: Request, exc: RestError) -> Response:
        return _error_response(exc, exc.http_status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        err = RestError.from_http(exc.status_code, str(exc.detail), request.url.path)
        return _error_response(err, exc.status_code)

    # Outermost: the body limit, request ids, and the answer to a bug (logged).
    app.add_middleware(
        Guard,
        name="rest",
        max_body_bytes=node.cfg.rest_max_body_bytes,
        error_body=_guard_body,
        exempt=("/artifacts/",),
    )
    # Outside the guard, so that its answers (413, 500) carry the header too: browser
    # apps on other origins (explorers, wallets) may read every GET.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"]
    )
    return app


def _error_response(err: RestError, status: int) -> Response:
    return Response(jsonbody.dumps(rest_error_json(err)), status, media_type="application/json")


def _guard_body(status: int, message: str) -> bytes:
    code = INVALID_ARGUMENT if status < 500 else INTERNAL
    return jsonbody.dumps(rest_error_json(RestError(code, message)))


def _json(out: Any) -> Response:
    return Response(jsonbody.dumps(out), media_type="application/json")


async def _threaded(fn: Any, *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)
