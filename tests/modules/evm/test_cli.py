"""``vcoind tx evm`` and ``vcoind query evm`` against a real node process: alice funds
her key's Ethereum address, deploys the OpenZeppelin ERC-20 with ``tx evm deploy``,
reads its code, a storage slot, the receipt and accounts in both address forms, moves
tokens with ``tx evm call-contract``, sends signed raw txs (bare and wrapped), and sees
bad input refused with the chain's words and a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode

from chain.crypto import keccak256, to_bech32, to_eth_address
from genesis.devnet import dev_key
from tests.modules.evm.test_hostile import ROOT, artifact, eth_tx
from tests.support.nodes import NodeProc, running_node

ALICE = dev_key("alice")
BOB = dev_key("bob")
OZ = str(ROOT / "contracts" / "build" / "OZToken.json")
SUPPLY = 1_000_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    with running_node(tmp_path_factory.mktemp("evm-cli-node")) as n:
        n.ok("tx", "bank", "send", "alice", to_eth_address(ALICE.eth_address), "100VCN", "-y")
        yield n


def ok_json(node: NodeProc, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(node.ok("-o", "json", *args))
    return out


@pytest.fixture(scope="module")
def token(node: NodeProc) -> dict[str, Any]:
    """OZToken deployed by alice with ``tx evm deploy``: its receipt (JSON)."""
    return ok_json(
        node, "tx", "evm", "deploy", OZ, "--args", f"[{SUPPLY}]", "--from", "alice", "-y"
    )


def test_deploy_prints_the_receipt_of_the_new_contract(
    node: NodeProc, token: dict[str, Any]
) -> None:
    assert token["status"] == 1 and token["code"] == 0 and token["blockNumber"] > 0
    assert token["from"] == "0x" + ALICE.eth_address.hex()
    assert token["to"] is None and token["contractAddress"]
    assert token["transactionHash"].startswith("0x") and len(token["cometbftHash"]) == 64
    gas_used, gas_limit = int(token["gasUsed"]), int(token["gasLimit"])
    assert 21_000 < gas_used < gas_limit <= 30_000_000  # the estimate had a margin
    (log,) = token["logs"]  # Transfer(0, alice, supply)
    assert log["topics"][0] == "0x" + keccak256(b"Transfer(address,address,uint256)").hex()
    assert int(log["data"], 16) == SUPPLY


def test_query_code_storage_and_receipt(node: NodeProc, token: dict[str, Any]) -> None:
    addr = token["contractAddress"]
    code = node.query("evm", "code", addr)["code"]
    assert code == "0x" + artifact("OZToken")["deployedBytecode"].removeprefix("0x")
    # OpenZeppelin's ERC20: _balances at slot 0, _totalSupply at slot 2
    assert int(node.query("evm", "storage", addr, "2")["value"], 16) == SUPPLY
    assert node.query("evm", "storage", addr, "0x2") == node.query("evm", "storage", addr, "2")
    key = keccak256(abi_encode(["address", "uint256"], [ALICE.eth_address, 0]))
    mine = node.query("evm", "storage", addr, "0x" + key.hex())
    assert int(mine["value"], 16) == SUPPLY
    assert node.ok("query", "evm", "storage", addr, "5").strip() == "0x" + "00" * 32
    rec = node.query("evm", "receipt", token["transactionHash"])
    assert rec == token  # the same receipt from the index as at broadcast
    text = node.ok("query", "evm", "receipt", token["transactionHash"].upper().replace("0X", "0x"))
    assert "status:    1 (success)" in text and to_eth_address(bytes.fromhex(addr[2:])) in text
    missing = node.cli("query", "evm", "receipt", "0x" + "ab" * 32)
    assert missing.returncode == 1 and "no tx with Ethereum hash" in missing.stderr


def test_an_account_is_the_same_in_both_address_forms(
    node: NodeProc, token: dict[str, Any]
) -> None:
    raw = ALICE.eth_address
    by_hex = node.query("evm", "account", to_eth_address(raw))
    assert by_hex == node.query("evm", "account", to_bech32(raw))
    assert by_hex == node.query("evm", "account", "0x" + raw.hex())  # all lower case
    assert by_hex == node.query("evm", "account", "alice")  # a key: its Ethereum address
    assert by_hex["address"] == to_eth_address(raw) and by_hex["bech32"] == to_bech32(raw)
    assert by_hex["is_contract"] is False and int(by_hex["nonce"]) >= 1
    c = bytes.fromhex(token["contractAddress"][2:])
    contract = node.query("evm", "account", to_bech32(c))
    assert contract["is_contract"] is True and contract["address"] == to_eth_address(c)
    text = node.ok("query", "evm", "account", to_bech32(c))
    assert to_eth_address(c) in text and "code hash" in text
    bad = node.cli("query", "evm", "account", "0x" + raw.hex()[:-2] + "ZZ")
    assert bad.returncode != 0 and "address" in bad.stderr


def test_call_contract_moves_tokens_and_query_call_reads_them(
    node: NodeProc, token: dict[str, Any]
) -> None:
    addr = token["contractAddress"]
    out = ok_json(node, "tx", "evm", "call-contract", addr, "--sig", "transfer(address,uint256)",
                  "--args", '["bob", 250]', "--from", "alice", "-y")  # fmt: skip
    assert out["status"] == 1 and out["to"] == addr and len(out["logs"]) == 1
    q = (
        "query",
        "evm",
        "call",
        "--to",
        addr,
        "--sig",
        "balanceOf(address)",
        "--returns",
        "uint256",
    )
    assert node.ok(*q, "--args", f'["{to_eth_address(BOB.eth_address)}"]').strip() == "250"
    assert ok_json(node, *q, "--args", '["alice"]')["decoded"] == [SUPPLY - 250]
    # too many tokens: the node's dry run says why, and nothing is sent
    nonce = node.query("evm", "account", "alice")["nonce"]
    over = node.cli("tx", "evm", "call-contract", addr, "--sig", "transfer(address,uint256)",
                    "--args", f"[\"bob\", {SUPPLY}]", "--from", "alice", "-y")  # fmt: skip
    assert over.returncode == 1 and "dry run" in over.stderr
    assert node.query("evm", "account", "alice")["nonce"] == nonce
    # sent anyway with --gas: it reverts (with OpenZeppelin's custom error), exit 1
    forced = node.cli("tx", "evm", "call-contract", addr, "--sig", "transfer(address,uint256)",
                      "--args", f"[\"bob\", {SUPPLY}]", "--gas", "100000", "--from", "alice",
                      "-y")  # fmt: skip
    assert forced.returncode == 1 and "execution reverted" in forced.stderr
    assert "revert:    0xe450d38c" in forced.stdout  # ERC20InsufficientBalance(…)


def test_send_raw_bare_and_wrapped(node: NodeProc, token: dict[str, Any]) -> None:
    key = ALICE  # signed with the key's secret, as MetaMask would
    sink = bytes(range(1, 21))
    for bare in (True, False):
        nonce = int(node.query("evm", "account", "alice")["nonce"])
        raw = eth_tx(key, nonce=nonce, to=sink, value=5, max_fee=3 * 10**9)
        args = ("tx", "evm", "send-raw", "0x" + raw.hex(), *(["--bare"] if bare else []))
        out = ok_json(node, *args)
        assert out["transactionHash"] == "0x" + keccak256(raw).hex()
        assert out["status"] == 1 and out["gasUsed"] == "21000"
        assert node.query("evm", "receipt", out["transactionHash"])["blockNumber"] > 0
        again = node.cli(*args)
        assert again.returncode == 1 and "nonce" in again.stderr
    assert node.query("evm", "account", to_eth_address(sink))["balance"] == "10"
    bad = node.cli("tx", "evm", "send-raw", "0x02c3")
    assert bad.returncode == 1 and "malformed" in bad.stderr and "code:      4 (evm)" in bad.stdout
    other = eth_tx(key, nonce=0, to=sink, chain_id=1)
    wrong = node.cli("tx", "evm", "send-raw", "0x" + other.hex())
    assert wrong.returncode == 1 and "chain id" in wrong.stderr
    assert node.cli("tx", "evm", "send-raw", "nothex").returncode == 1


def test_params_base_fee_and_help(node: NodeProc, tmp_path: Path) -> None:
    params = node.query("evm", "params")
    assert params["chain_id"] == str(0x5643) and int(params["block_gas_limit"]) > 0
    fee = int(node.query("evm", "base-fee")["base_fee"])
    assert fee >= int(params["min_base_fee"])
    assert "gwei" in node.ok("query", "evm", "base-fee")
    for cmd in (("tx", "evm", "deploy"), ("tx", "evm", "send-raw"), ("query", "evm", "receipt")):
        out = node.ok(*cmd, "--help")
        assert "usage:" in out and len(out) > 300, cmd
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    r = node.cli("tx", "evm", "deploy", str(junk), "--from", "alice", "-y")
    assert r.returncode == 1 and "bytecode" in r.stderr
    r = node.cli("tx", "evm", "deploy", OZ, "--args", '["x", 2]', "--from", "alice", "-y")
    assert r.returncode == 1 and "--args has 2 values" in r.stderr


def test_a_key_whose_ethereum_address_has_no_coins_is_told_to_fund_it(node: NodeProc) -> None:
    r = node.cli("tx", "evm", "deploy", OZ, "--args", "[1]", "--from", "bob", "-y")
    assert r.returncode == 1 and to_eth_address(BOB.eth_address) in r.stderr
    assert "vcoind tx bank send bob" in r.stderr
    assert node.query("evm", "account", "bob")["nonce"] == "0"
