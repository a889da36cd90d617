"""The Ethereum JSON-RPC (app/ethrpc) through web3.py 8, a client nobody here wrote.

One node in this process (solo driver, ``--instant``) serves every test of the
module; each test funds its own eth_account key by a Cosmos bank send, so the
tests do not share nonces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from app.ethrpc.blocks import _before_empty_block
from app.ethrpc.hexio import RpcError
from app.ethrpc.logs import find_logs
from app.ethrpc.methods import EthApi
from app.node import Node
from chain.crypto import to_bech32
from modules.auth import state as auth_state
from modules.evm.params import Params
from modules.evm.state import next_base_fee
from tests.support.chain import ALICE, VCN, msg_send, sign
from tests.support.nodes import inproc_node
from tests.support.wait import wait_for

OZ = json.loads((Path(__file__).resolve().parents[2] / "contracts/build/OZToken.json").read_text())
CHAIN_ID = 0x5643
GWEI = 10**9


def _revert_contract(reason: bytes) -> bytes:
    """Init code of a contract whose every call reverts with ``Error(reason)``."""
    payload = (
        bytes.fromhex("08c379a0")
        + (32).to_bytes(32, "big")
        + len(reason).to_bytes(32, "big")
        + reason.ljust(32, b"\0")
    )
    n = len(payload)
    # CODECOPY(0, 12, n); REVERT(0, n); then the payload
    runtime = bytes([0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xFD]) + payload
    r = len(runtime)
    # CODECOPY(0, 12, r); RETURN(0, r); then the runtime
    return bytes([0x60, r, 0x60, 12, 0x60, 0, 0x39, 0x60, r, 0x60, 0, 0xF3]) + runtime


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("ethrpc")) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Node) -> Web3:
    return Web3(
        Web3.HTTPProvider(f"http://{node.cfg.jsonrpc_laddr}", request_kwargs={"timeout": 30})
    )


def fund(node: Node, w3: Web3, to: str, amount: int) -> None:
    """A Cosmos bank send from alice to the 0x address ``to``; waits until web3 sees it."""
    before = w3.eth.get_balance(Web3.to_checksum_address(to))
    with node.lock:
        acc = auth_state.get_account(node.app.check_ctx(), ALICE.address)
    assert acc is not None
    addr = bytes.fromhex(to[2:])
    raw = sign(
        ALICE,
        [msg_send(ALICE, to_bech32(addr), amount)],
        account_number=acc.number,
        sequence=acc.sequence,
    )
    res = node.mempool.check_and_add(raw)
    assert res.ok, res.log
    wait_for(
        "the funding send",
        lambda: w3.eth.get_balance(Web3.to_checksum_address(to)) == before + amount,
        30,
        poll=0.1,
    )


@pytest.fixture
def acct(node: Node, w3: Web3) -> LocalAccount:
    a: LocalAccount = Account.create()
    fund(node, w3, a.address, 10 * VCN)
    return a


def send(w3: Web3, acct: LocalAccount, tx: dict[str, Any]) -> Any:
    signed = acct.sign_transaction(tx)
    h = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert h == keccak(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1)


def fees(w3: Web3) -> dict[str, int]:
    tip = w3.eth.max_priority_fee
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip}


def deploy_token(w3: Web3, acct: LocalAccount, supply: int) -> Any:
    token = w3.eth.contract(abi=OZ["abi"], bytecode=OZ["bytecode"])
    tx = token.constructor(supply).build_transaction(
        {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address), **fees(w3)}
    )
    receipt = send(w3, acct, tx)
    assert receipt["status"] == 1
    assert receipt["contractAddress"]
    return w3.eth.contract(address=receipt["contractAddress"], abi=OZ["abi"]), receipt


def test_identity_and_fee_methods(w3: Web3) -> None:
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.net.version == str(CHAIN_ID)
    assert w3.net.listening is True
    assert w3.client_version.startswith("vcoin/")
    assert w3.eth.syncing is False
    assert w3.eth.accounts == []
    latest = w3.eth.get_block("latest")
    assert w3.eth.block_number >= latest["number"] >= 1  # blocks keep coming
    assert latest["baseFeePerGas"] >= GWEI  # EIP-1559 is detected by this field
    assert latest["uncles"] == [] and latest["gasLimit"] == 30_000_000
    assert w3.eth.get_block(latest["hash"])["number"] == latest["number"]
    assert w3.eth.gas_price >= latest["baseFeePerGas"]
    assert w3.eth.max_priority_fee >= 0
    hist = w3.eth.fee_history(4, "latest", [25.0, 75.0])
    assert len(hist["baseFeePerGas"]) == len(hist["gasUsedRatio"]) + 1
    assert all(len(r) == 2 for r in hist["reward"])
    assert w3.provider.make_request("eth_feeHistory", ["0x2", "latest"])["result"]["oldestBlock"]
    sha3 = w3.provider.make_request("web3_sha3", ["0x"])["result"]
    assert sha3 == Web3.to_hex(w3.keccak(b""))
    assert w3.eth.get_block("earliest")["number"] == 1
    uncle = w3.provider.make_request(
        "eth_getUncleByBlockHashAndIndex", [latest["hash"].to_0x_hex(), "0x0"]
    )
    assert uncle["result"] is None


def test_cosmos_send_shows_in_get_balance_and_an_eip1559_transfer(w3: Web3, node: Node) -> None:
    a: LocalAccount = Account.create()
    assert w3.eth.get_balance(a.address) == 0
    fund(node, w3, a.address.lower(), 3 * VCN)  # any case in, checksummed out
    assert w3.eth.get_balance(a.address) == 3 * VCN
    b = Account.create().address
    assert w3.eth.get_transaction_count(a.address) == 0
    tx = {
        "type": 2,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(a.address, "pending"),
        "to": b,
        "value": VCN,
        "gas": 21_000,
        **fees(w3),
    }
    receipt = send(w3, a, tx)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert receipt["type"] == 2 and receipt["to"] == b and receipt["from"] == a.address
    assert receipt["cumulativeGasUsed"] >= 21_000 and receipt["logs"] == []
    price = receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(b) == VCN
    assert w3.eth.get_balance(a.address) == 2 * VCN - 21_000 * price
    assert w3.eth.get_transaction_count(a.address) == 1
    got = w3.eth.get_transaction(receipt["transactionHash"])
    assert got["from"] == a.address and got["to"] == b and got["value"] == VCN
    assert (
        got["blockNumber"] == receipt["blockNumber"] and got["maxFeePerGas"] == tx["maxFeePerGas"]
    )
    blk = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert blk["hash"] == receipt["blockHash"]
    assert blk["transactions"][receipt["transactionIndex"]]["hash"] == receipt["transactionHash"]
    assert blk["gasUsed"] >= 21_000
    assert w3.eth.get_block_transaction_count(receipt["blockNumber"]) == len(blk["transactions"])
    by_index = w3.eth.get_transaction_by_block(receipt["blockHash"], receipt["transactionIndex"])
    assert by_index["hash"] == receipt["transactionHash"]
    receipts = w3.eth.get_block_receipts(receipt["blockNumber"])
    assert receipt["transactionHash"] in [r["transactionHash"] for r in receipts]
    # an unknown hash: null, as wait_for_transaction_receipt needs
    missing = w3.provider.make_request("eth_getTransactionReceipt", ["0x" + "ab" * 32])
    assert missing["result"] is None


def test_pending_nonce_counts_the_mempool(w3: Web3, node: Node, acct: LocalAccount) -> None:
    base = {"chainId": CHAIN_ID, "to": acct.address, "value": 1, "gas": 21_000, **fees(w3)}
    api = EthApi(node)
    with node.lock:  # no block is made while both txs go in and the counts are read
        for nonce in (0, 1):
            signed = acct.sign_transaction({**base, "nonce": nonce})
            res = node.mempool.check_and_add(bytes(signed.raw_transaction))
            assert res.ok, res.log
        # the server's threads wait on this lock: the methods are called in this thread
        assert api.call("eth_getTransactionCount", [acct.address, "pending"]) == "0x2"
        assert api.call("eth_getTransactionCount", [acct.address, "latest"]) == "0x0"
    wait_for("both txs", lambda: w3.eth.get_transaction_count(acct.address) == 2, 30, poll=0.1)


def test_erc20_deploy_call_transfer_logs_and_estimate(
    w3: Web3, node: Node, acct: LocalAccount
) -> None:
    supply = 1_000_000 * 10**18
    token, deployed = deploy_token(w3, acct, supply)
    assert w3.eth.get_code(token.address) == bytes.fromhex(OZ["deployedBytecode"][2:])
    assert token.functions.balanceOf(acct.address).call() == supply
    assert token.functions.totalSupply().call() == supply
    # the mint's Transfer log is in the deployment receipt
    (mint,) = token.events.Transfer().process_receipt(deployed)
    assert mint["args"]["value"] == supply
    to = Account.create().address
    call = token.functions.transfer(to, 1234)
    estimate = call.estimate_gas({"from": acct.address})
    assert 21_000 < estimate < 100_000
    tx = call.build_transaction(
        {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address), **fees(w3)}
    )
    assert tx["gas"] == estimate
    receipt = send(w3, acct, tx)
    assert receipt["status"] == 1 and receipt["gasUsed"] <= estimate
    assert token.functions.balanceOf(to).call() == 1234
    (ev,) = token.events.Transfer().process_receipt(receipt)
    assert ev["args"]["to"] == to and ev["args"]["value"] == 1234
    assert ev["logIndex"] == 0 and ev["blockHash"] == receipt["blockHash"]
    assert int.from_bytes(receipt["logsBloom"], "big") != 0
    # get_logs by address and topic, and by block hash
    logs = w3.eth.get_logs(
        {
            "fromBlock": deployed["blockNumber"],
            "toBlock": "latest",
            "address": token.address,
            "topics": [ev["topics"][0] if "topics" in ev else receipt["logs"][0]["topics"][0]],
        }
    )
    assert [lg["transactionHash"] for lg in logs] == [
        deployed["transactionHash"],
        receipt["transactionHash"],
    ]
    decoded = token.events.Transfer().process_log(logs[1])
    assert decoded["args"]["value"] == 1234
    only_to = w3.eth.get_logs(
        {
            "blockHash": receipt["blockHash"],
            "topics": [None, None, "0x" + "00" * 12 + to[2:].lower()],
        }
    )
    assert [lg["transactionHash"] for lg in only_to] == [receipt["transactionHash"]]
    assert w3.eth.get_logs({"fromBlock": receipt["blockNumber"], "address": to}) == []
    # past the result limit: a clear -32005 error (the node's limit is 10,000)
    chain = EthApi(node).chain
    filt = {"fromBlock": hex(deployed["blockNumber"]), "address": token.address}
    assert len(find_logs(chain, 100, 2, filt)) == 2
    with pytest.raises(RpcError, match="more than 1 results") as e:
        find_logs(chain, 100, 1, filt)
    assert e.value.code == -32005
    # a transfer of more than the balance: OpenZeppelin's custom error, as revert data
    with pytest.raises(ContractCustomError):
        token.functions.transfer(to, supply * 2).call({"from": acct.address})
    with pytest.raises(ContractCustomError):
        token.functions.transfer(to, supply * 2).estimate_gas({"from": acct.address})
    slot = w3.eth.get_storage_at(token.address, 2)  # OZ ERC20: _totalSupply
    assert int.from_bytes(slot, "big") == supply


def test_logs_read_a_few_blocks_at_a_time_in_height_order(
    w3: Web3, node: Node, acct: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eth_getLogs reads its blocks in chunks (``BLOCKS_A_READ``, one take of the block
    cache's lock each): chunks of 1, 2 and 64 give the same logs in height order, and
    the result limit still stops the query where it is passed."""
    from app.ethrpc import logs as logs_mod

    token, deployed = deploy_token(w3, acct, 10**24)
    receipts = [deployed]
    for i in range(3):
        tx = token.functions.transfer(Account.create().address, i + 1).build_transaction(
            {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address), **fees(w3)}
        )
        receipts.append(send(w3, acct, tx))
    heights = [r["blockNumber"] for r in receipts]
    assert heights == sorted(set(heights))  # one log a block, four blocks
    chain = EthApi(node).chain
    filt = {"fromBlock": hex(heights[0]), "address": token.address}
    want = [r["transactionHash"].to_0x_hex() for r in receipts]
    for chunk in (1, 2, 64):
        monkeypatch.setattr(logs_mod, "BLOCKS_A_READ", chunk)
        got = find_logs(chain, 100, 10, filt)
        assert [lg["transactionHash"] for lg in got] == want
        assert [int(lg["blockNumber"], 16) for lg in got] == heights
        assert len(find_logs(chain, 100, 4, filt)) == 4  # at the limit
        with pytest.raises(RpcError, match="more than 3 results"):  # one over it
            find_logs(chain, 100, 3, filt)
    # Chain.blocks: the same blocks as Chain.block, in the order asked, None past the tip
    top = chain.latest()
    asked = [heights[2], heights[0], top + 5, heights[1]]
    got_blocks = chain.blocks(asked)
    assert [b.height if b else None for b in got_blocks] == [
        heights[2],
        heights[0],
        None,
        heights[1],
    ]
    assert got_blocks[0] is chain.block(heights[2])


def test_revert_reason_is_a_contract_logic_error(w3: Web3, acct: LocalAccount) -> None:
    init = _revert_contract(b"nope, not today")
    receipt = send(
        w3,
        acct,
        {
            "chainId": CHAIN_ID,
            "nonce": w3.eth.get_transaction_count(acct.address),
            "data": init,
            "gas": 200_000,
            **fees(w3),
        },
    )
    assert receipt["status"] == 1
    target = receipt["contractAddress"]
    with pytest.raises(ContractLogicError, match="execution reverted: nope, not today") as e:
        w3.eth.call({"to": target, "data": "0x12345678"})
    assert isinstance(e.value.data, str) and e.value.data.startswith("0x08c379a0")
    with pytest.raises(ContractLogicError, match="nope, not today"):
        w3.eth.estimate_gas({"from": acct.address, "to": target, "data": "0x"})
    raw = w3.provider.make_request("eth_call", [{"to": target}, "latest"])
    assert raw["error"]["code"] == 3
    assert raw["error"]["message"] == "execution reverted: nope, not today"


def test_legacy_eip155_transaction(w3: Web3, acct: LocalAccount) -> None:
    to = Account.create().address
    tx = {
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(acct.address),
        "to": to,
        "value": 5,
        "gas": w3.eth.estimate_gas({"from": acct.address, "to": to, "value": 5}),
        "gasPrice": w3.eth.gas_price,
    }
    assert tx["gas"] == 21_000
    receipt = send(w3, acct, tx)
    assert receipt["status"] == 1 and receipt["type"] == 0
    got = w3.eth.get_transaction(receipt["transactionHash"])
    assert got["type"] == 0 and got["v"] in (CHAIN_ID * 2 + 35, CHAIN_ID * 2 + 36)
    assert w3.eth.get_balance(to) == 5


def test_bad_raw_transactions_are_refused_clearly(w3: Web3, acct: LocalAccount) -> None:
    def refusal(raw: bytes) -> str:
        with pytest.raises(Web3RPCError) as e:
            w3.eth.send_raw_transaction(raw)
        return str(e.value)

    base = {"chainId": CHAIN_ID, "to": acct.address, "value": 1, "gas": 21_000, **fees(w3)}
    good = acct.sign_transaction({**base, "nonce": w3.eth.get_transaction_count(acct.address)})
    raw = bytes(good.raw_transaction)
    assert "malformed" in refusal(raw[:-3]).lower()
    assert "malformed" in refusal(b"\x02\xc0").lower()
    other_chain = acct.sign_transaction({**base, "chainId": 1, "nonce": 0})
    assert "chain id" in refusal(bytes(other_chain.raw_transaction))
    assert "not an Ethereum transaction" in refusal(b"\x0a\x00")
    send(w3, acct, {**base, "nonce": w3.eth.get_transaction_count(acct.address)})
    again = acct.sign_transaction({**base, "nonce": 0, "value": 2})
    assert "nonce 0 was already used" in refusal(bytes(again.raw_transaction))
    gap = acct.sign_transaction({**base, "nonce": 9})
    assert "gap" in refusal(bytes(gap.raw_transaction))
    low = acct.sign_transaction({**base, "nonce": 1, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1})
    assert "below the base fee" in refusal(bytes(low.raw_transaction))


def test_base_fee_of_a_block_without_evm_gas_is_recovered_from_the_next() -> None:
    p = Params()
    for fee in [p.min_base_fee, p.min_base_fee + 1, 1_234_567_891, 7 * 10**9, 10**12 + 3]:
        after = next_base_fee(p, fee, 0)
        before = _before_empty_block(after, p.min_base_fee, p.base_fee_change_denominator)
        assert next_base_fee(p, before, 0) == after
        assert abs(before - fee) <= 1 or after == p.min_base_fee


def test_block_and_log_filters(w3: Web3, node: Node, acct: LocalAccount) -> None:
    token, deployed = deploy_token(w3, acct, 10**21)
    blocks = w3.eth.filter("latest")
    pending = w3.eth.filter("pending")
    transfers = token.events.Transfer.create_filter(from_block=deployed["blockNumber"] + 1)
    assert transfers.get_new_entries() == []
    to = Account.create().address
    tx = token.functions.transfer(to, 77).build_transaction(
        {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address), **fees(w3)}
    )
    receipt = send(w3, acct, tx)
    (ev,) = transfers.get_new_entries()
    assert ev["args"]["to"] == to and ev["transactionHash"] == receipt["transactionHash"]
    assert transfers.get_new_entries() == []  # reported once
    assert [e["args"]["value"] for e in transfers.get_all_entries()] == [77]
    hashes = blocks.get_new_entries()
    assert receipt["blockHash"] in hashes
    assert pending.get_new_entries() == []
    assert w3.eth.uninstall_filter(blocks.filter_id) is True
    assert w3.eth.uninstall_filter(blocks.filter_id) is False
    gone = w3.provider.make_request("eth_getFilterChanges", [blocks.filter_id])
    assert gone["error"]["message"] == "filter not found"
