"""A real cosmpy LedgerClient against the node's Cosmos REST API, plus the gateway's shapes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from cosmpy.aerial.client import LedgerClient, NetworkConfig
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey as CosmpyKey
from cosmpy.protos.cosmos.auth.v1beta1.query_pb2 import QueryParamsRequest as AuthParamsRequest
from cosmpy.protos.cosmos.bank.v1beta1.query_pb2 import QueryTotalSupplyRequest
from cosmpy.protos.cosmos.tx.v1beta1.service_pb2 import GetTxsEventRequest, OrderBy

from app.node import Node
from chain.client import NodeClient, tx_hash
from chain.crypto import PrivateKey
from genesis.devnet import CHAIN_ID, DEV_ACCOUNTS, DEV_BALANCE, dev_key
from modules.auth.params import Params as AuthParams
from tests.support.chain import msg_send
from tests.support.nodes import inproc_node

VCN = 10**18
ALICE = dev_key("alice")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("rest")) as n:
        yield n


@pytest.fixture(scope="module")
def rest(node: Node) -> str:
    return f"http://{node.cfg.rest_laddr}"


@pytest.fixture(scope="module")
def ledger(rest: str) -> LedgerClient:
    cfg = NetworkConfig(
        chain_id=CHAIN_ID,
        url="rest+" + rest,
        fee_minimum_gas_price=AuthParams().min_gas_price,
        fee_denomination="avcn",
        staking_denomination="avcn",
    )
    return LedgerClient(cfg, query_interval_secs=1)


def wallet(key: PrivateKey) -> LocalWallet:
    return LocalWallet(CosmpyKey(key.secret), prefix="vcoin")


def test_ledger_client_sends_vcn_reads_balances_and_finds_the_tx(ledger: LedgerClient) -> None:
    alice = wallet(ALICE)
    assert str(alice.address()) == ALICE.bech32
    recipient = PrivateKey.from_seed(b"cosmpy-recipient").bech32
    before = ledger.query_bank_balance(alice.address())
    assert ledger.query_bank_balance(recipient) == 0

    submitted = ledger.send_tokens(recipient, 3 * VCN, "avcn", alice)
    submitted.wait_to_complete(timeout=30, poll_period=timedelta(milliseconds=200))
    resp = submitted.response
    assert resp is not None and resp.code == 0 and resp.height > 0

    assert ledger.query_bank_balance(recipient) == 3 * VCN
    fee = int(resp.events["tx"]["fee"].removesuffix("avcn"))
    assert fee == resp.gas_wanted * AuthParams().min_gas_price
    assert ledger.query_bank_balance(alice.address()) == before - 3 * VCN - fee
    assert [(c.denom, int(c.amount)) for c in ledger.query_bank_all_balances(recipient)] == [
        ("avcn", 3 * VCN)
    ]

    found = ledger.query_tx(submitted.tx_hash)
    assert found.hash == submitted.tx_hash and found.height == resp.height
    assert found.events["transfer"]["recipient"] == recipient
    assert found.timestamp is not None
    block = ledger.query_block(found.height)
    assert submitted.tx_hash in block.tx_hashes and block.chain_id == CHAIN_ID
    assert ledger.query_height() >= found.height
    assert ledger.query_account(alice.address()).sequence >= 1


def test_cosmpy_rest_clients_parse_every_answer(ledger: LedgerClient) -> None:
    info = ledger.query_node_info()
    assert info.app_name == "vcoin" and str(info.cosmos_sdk_version).startswith("0.50")
    assert ledger.query_chain_id() == CHAIN_ID
    assert ledger.query_consensus_params().params.block.max_gas == -1
    supply = ledger.bank.TotalSupply(QueryTotalSupplyRequest())
    total = sum(int(c.amount) for c in supply.supply if c.denom == "avcn")
    assert total == len(DEV_ACCOUNTS) * DEV_BALANCE
    params = ledger.auth.Params(AuthParamsRequest()).params
    assert params.max_memo_characters == AuthParams().max_memo_characters
    hits = ledger.txs.GetTxsEvent(
        GetTxsEventRequest(
            query=f"message.sender='{ALICE.bech32}'", order_by=OrderBy.ORDER_BY_DESC, limit=5
        )
    )
    assert hits.total >= 1 and len(hits.txs) == len(hits.tx_responses) >= 1
    assert all(r.code == 0 and r.height > 0 for r in hits.tx_responses)
    heights = [r.height for r in hits.tx_responses]
    assert heights == sorted(heights, reverse=True)


def test_account_json_is_a_packed_base_account(rest: str) -> None:
    acc = httpx.get(f"{rest}/cosmos/auth/v1beta1/accounts/{dev_key('bob').bech32}").json()
    a = acc["account"]
    assert a["@type"] == "/cosmos.auth.v1beta1.BaseAccount"
    assert a["address"] == dev_key("bob").bech32
    assert a["account_number"].isdigit() and a["sequence"].isdigit()
    bal = httpx.get(
        f"{rest}/cosmos/bank/v1beta1/balances/{dev_key('bob').bech32}/by_denom",
        params={"denom": "avcn"},
    ).json()
    assert bal == {"balance": {"denom": "avcn", "amount": str(DEV_BALANCE)}}


def test_broadcast_and_simulate_take_tx_bytes(rest: str, node: Node) -> None:
    client = NodeClient(f"http://{node.cfg.rpc_laddr}")
    bob = dev_key("bob")
    raw = client.build_tx(bob, [msg_send(bob, ALICE, 5)])
    tx_b64 = base64.b64encode(raw).decode()
    sim = httpx.post(f"{rest}/cosmos/tx/v1beta1/simulate", json={"tx_bytes": tx_b64}).json()
    assert int(sim["gas_info"]["gas_used"]) > 0
    assert any(e["type"] == "transfer" for e in sim["result"]["events"])

    r = httpx.post(
        f"{rest}/cosmos/tx/v1beta1/txs", json={"tx_bytes": tx_b64, "mode": "BROADCAST_MODE_SYNC"}
    )
    assert r.status_code == 200
    txr = r.json()["tx_response"]
    assert txr["code"] == 0 and txr["height"] == "0" and txr["txhash"] == tx_hash(raw)
    assert client.wait_tx(txr["txhash"], timeout=15).ok
    got = httpx.get(f"{rest}/cosmos/tx/v1beta1/txs/{txr['txhash']}").json()
    assert got["tx"]["body"]["messages"][0]["@type"] == "/cosmos.bank.v1beta1.MsgSend"
    assert got["tx"]["body"]["messages"][0]["to_address"] == ALICE.bech32
    assert got["tx_response"]["tx"]["@type"] == "/cosmos.tx.v1beta1.Tx"
    assert int(got["tx_response"]["height"]) > 0

    # the same tx again: refused in CheckTx, still HTTP 200 with the chain's code
    again = httpx.post(
        f"{rest}/cosmos/tx/v1beta1/txs", json={"tx_bytes": tx_b64, "mode": "BROADCAST_MODE_SYNC"}
    ).json()["tx_response"]
    assert again["code"] == 32 and again["codespace"] == "sdk" and "sequence" in again["raw_log"]


def test_errors_have_the_gateway_shape(rest: str) -> None:
    stranger = PrivateKey.from_seed(b"never-funded").bech32
    r = httpx.get(f"{rest}/cosmos/auth/v1beta1/accounts/{stranger}")
    assert r.status_code == 404
    assert r.json() == {"code": 5, "message": f"account {stranger} not found", "details": []}
    r = httpx.get(f"{rest}/cosmos/bank/v1beta1/balances/notanaddress")
    assert r.status_code == 400 and r.json()["code"] == 3 and "bech32" in r.json()["message"]
    r = httpx.get(f"{rest}/cosmos/tx/v1beta1/txs/{'AB' * 32}")
    assert r.status_code == 404 and r.json()["message"] == f"tx not found: {'AB' * 32}"
    r = httpx.post(f"{rest}/cosmos/tx/v1beta1/simulate", json={"tx_bytes": "AAAA"})
    assert r.status_code == 400 and r.json()["code"] == 3 and "TxRaw" in r.json()["message"]
    r = httpx.post(
        f"{rest}/cosmos/tx/v1beta1/txs", json={"tx_bytes": "AAAA", "mode": "BROADCAST_MODE_BLOCK"}
    )
    assert r.status_code == 400 and "BROADCAST_MODE_SYNC" in r.json()["message"]
    r = httpx.get(f"{rest}/cosmos/base/tendermint/v1beta1/blocks/99999999")
    assert r.status_code == 400 and "bigger than the chain length" in r.json()["message"]
    r = httpx.get(f"{rest}/cosmos/tx/v1beta1/txs")
    assert r.status_code == 400 and "query cannot be empty" in r.json()["message"]
    r = httpx.get(f"{rest}/cosmos/nothing/here")
    assert r.status_code == 404 and r.json()["code"] == 5 and r.json()["details"] == []
