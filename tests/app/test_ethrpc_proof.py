"""``eth_getProof`` (app/ethrpc/proof.py): the answer's proofs verify against the block's
``stateRoot`` (the app hash) with the chain's own verifier (``chain.store.verify_proof``),
and any tampering makes them fail.

One node in this process (``--instant``, a block every 500 ms): a proof is asked
for at the number of the block whose ``stateRoot`` it is checked against, and
asked again when a block came in between. web3.py reads the proofs too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from eth_typing import ChecksumAddress
from web3 import Web3

from app.ethrpc import proof
from app.node import Node
from chain.store import StoreProof, verify_proof
from modules.bank import keys as bank_keys
from tests.app.test_ethrpc_ws import fund, new_account, signed_tx
from tests.support.nodes import inproc_node

RUNTIME = bytes([0x00])  # STOP
# SSTORE(0, 42); SSTORE(5, 7); then return the runtime
_PREFIX = bytes.fromhex("602a600055" + "6007600555")
INIT = (
    _PREFIX
    + bytes([0x60, len(RUNTIME), 0x60, len(_PREFIX) + 12, 0x60, 0, 0x39])
    + bytes([0x60, len(RUNTIME), 0x60, 0, 0xF3])
    + RUNTIME
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("ethproof")) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Node) -> Web3:
    return Web3(
        Web3.HTTPProvider(f"http://{node.cfg.jsonrpc_laddr}", request_kwargs={"timeout": 30})
    )


@pytest.fixture(scope="module")
def contract(node: Node, w3: Web3) -> ChecksumAddress:
    acct = new_account(node, w3)
    h = w3.eth.send_raw_transaction(signed_tx(w3, acct, data=INIT))
    r = w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1)
    assert r["status"] == 1 and r["contractAddress"] is not None
    return Web3.to_checksum_address(r["contractAddress"])


def rpc(w3: Web3, method: str, params: list[Any]) -> dict[str, Any]:
    return dict(w3.provider.make_request(method, params))  # type: ignore[arg-type]


def at_one_height(w3: Web3, address: str, keys: list[str]) -> tuple[bytes, dict[str, Any]]:
    """(the block's stateRoot, eth_getProof at that block), read at the same height."""
    for _ in range(20):
        n = w3.eth.block_number
        root = bytes(w3.eth.get_block(n)["stateRoot"])
        r = rpc(w3, "eth_getProof", [address, keys, hex(n)])
        if "result" in r:
            return root, r["result"]
        assert "is not kept" in r["error"]["message"], r  # a block came in between
    raise AssertionError("no proof at a block number the node still held")


def test_an_account_and_its_storage_verify_against_the_state_root(
    w3: Web3, contract: ChecksumAddress
) -> None:
    root, res = at_one_height(w3, contract, ["0x0", "0x05", "0x" + "00" * 31 + "01"])
    assert proof.verify_account(root, res)
    assert res["nonce"] == "0x1"  # a contract starts at nonce 1 (EIP-161)
    assert res["codeHash"] == "0x" + keccak(w3.eth.get_code(contract)).hex()
    assert res["codeHash"] == "0x" + keccak(RUNTIME).hex()
    values = [e["value"] for e in res["storageProof"]]
    assert values == ["0x2a", "0x7", "0x0"]  # slot 1 is absent: proven absent
    assert [e["key"] for e in res["storageProof"]] == ["0x" + f"{i:064x}" for i in (0, 5, 1)]
    for e in res["storageProof"]:
        assert proof.verify_storage(root, contract, e)
    # storageHash is the evm store's root, which the app hash commits to
    p, _ = proof.decode(res["storageProof"][0]["proof"][0])
    assert res["storageHash"] == "0x" + p.roots["evm"].hex()


def test_the_chains_own_verifier_checks_each_proof(node: Node, w3: Web3) -> None:
    acct = new_account(node, w3)
    root, res = at_one_height(w3, acct.address, [])
    assert int(res["balance"], 16) == w3.eth.get_balance(acct.address) > 0
    assert res["codeHash"] == "0x" + keccak(b"").hex() and res["nonce"] == "0x0"
    bal = json.loads(bytes.fromhex(res["accountProof"][1][2:]))
    sp = StoreProof.from_json(bal)
    key = bank_keys.balance(bytes.fromhex(acct.address[2:]), "avcn")
    value = bytes.fromhex(bal["value"])
    assert sp.module == "bank" and int.from_bytes(value, "big") == int(res["balance"], 16)
    assert verify_proof(root, sp, key, value)
    assert not verify_proof(root, sp, key, (int.from_bytes(value, "big") + 1).to_bytes(32, "big"))
    assert proof.verify_account(root, res)


def test_an_absent_account_is_proven_absent(w3: Web3) -> None:
    addr = Account.create().address
    root, res = at_one_height(w3, addr, ["0x1"])
    assert res["balance"] == "0x0" and res["nonce"] == "0x0"
    assert res["codeHash"] == "0x" + "00" * 32
    assert proof.verify_account(root, res)
    assert proof.verify_storage(root, addr, res["storageProof"][0])


def _flip(item: str, at: int) -> str:
    """A proof element with one hex digit of its JSON changed (inside ``at``'s field)."""
    d = json.loads(bytes.fromhex(item[2:]))
    sib = d["inner"]["siblings"]
    if at == 0 and sib:
        s = sib[0]
        sib[0] = s[:10] + ("0" if s[10] != "0" else "1") + s[11:]
    else:
        leaf = d["inner"]["leaf"]
        leaf[1] = ("0" if leaf[1][0] != "0" else "1") + leaf[1][1:]
    return "0x" + json.dumps(d).encode().hex()


def test_tampered_proofs_and_answers_fail(node: Node, w3: Web3, contract: ChecksumAddress) -> None:
    acct = new_account(node, w3)
    root, res = at_one_height(w3, acct.address, [])
    assert proof.verify_account(root, res)
    assert not proof.verify_account(root, {**res, "balance": hex(int(res["balance"], 16) + 1)})
    assert not proof.verify_account(root, {**res, "nonce": "0x5"})
    assert not proof.verify_account(root, {**res, "codeHash": "0x" + "11" * 32})
    for i in range(3):
        for at in (0, 1):
            items = list(res["accountProof"])
            try:
                items[i] = _flip(items[i], at)
            except (TypeError, IndexError):
                continue  # an absent record has no leaf to change
            assert not proof.verify_account(root, {**res, "accountProof": items}), (i, at)
    # a proof's claimed value changed
    d = json.loads(bytes.fromhex(res["accountProof"][1][2:]))
    d["value"] = (int(d["value"], 16) * 2).to_bytes(32, "big").hex()
    items = [res["accountProof"][0], "0x" + json.dumps(d).encode().hex(), res["accountProof"][2]]
    assert not proof.verify_account(root, {**res, "accountProof": items})
    # another account's proofs, another state root, proofs in the wrong order
    _, other = at_one_height(w3, contract, ["0x0"])
    assert not proof.verify_account(root, {**res, "accountProof": other["accountProof"]})
    assert not proof.verify_account(b"\x01" * 32, res)
    assert not proof.verify_account(root, {**res, "accountProof": res["accountProof"][::-1]})
    assert not proof.verify_account(root, {**res, "accountProof": ["0x00", "0x", "zz"]})
    root2, other = at_one_height(w3, contract, ["0x0"])
    entry = other["storageProof"][0]
    assert proof.verify_storage(root2, contract, entry)
    assert not proof.verify_storage(root2, contract, {**entry, "value": "0x2b"})
    assert not proof.verify_storage(root2, contract, {**entry, "key": "0x5"})
    assert not proof.verify_storage(root2, acct.address, entry)
    assert not proof.verify_storage(
        root2, contract, {**entry, "proof": [_flip(entry["proof"][0], 0)]}
    )


def test_web3_reads_the_proof(w3: Web3, contract: ChecksumAddress) -> None:
    got = w3.eth.get_proof(contract, [0, 5], "latest")  # type: ignore[call-arg, arg-type]
    assert got["nonce"] == 1 and len(got["accountProof"]) == 3
    assert [int.from_bytes(e["value"], "big") for e in got["storageProof"]] == [42, 7]


def test_other_blocks_get_the_eth_get_balance_error(node: Node, w3: Web3) -> None:
    fund(node, w3, Account.create().address, 1)  # a block after the first
    addr = "0x" + "00" * 19 + "01"
    for tag in ("0x1", "earliest", {"blockNumber": "0x1"}):
        a = rpc(w3, "eth_getProof", [addr, [], tag])
        b = rpc(w3, "eth_getBalance", [addr, tag])
        assert a["error"] == b["error"] and "is not kept" in a["error"]["message"]
    for tag in ("0xffffff",):
        a = rpc(w3, "eth_getProof", [addr, [], tag])
        assert a["error"] == rpc(w3, "eth_getBalance", [addr, tag])["error"]
    pending = rpc(w3, "eth_getProof", [addr, [], "pending"])
    assert pending["error"]["code"] == -32000 and "pending" in pending["error"]["message"]
    for tag in ("latest", "safe", "finalized", hex(w3.eth.block_number)):
        assert "result" in rpc(w3, "eth_getProof", [addr, [], tag])


def test_bad_parameters_and_the_storage_key_limit(
    w3: Web3, monkeypatch: pytest.MonkeyPatch
) -> None:
    addr = "0x" + "00" * 19 + "01"
    for params in (
        [],
        [addr],
        ["0x12", []],
        [addr, "0x0"],
        [addr, ["0x" + "1" * 66]],
        [addr, [None]],
        [addr, [], "soon"],
        [addr, [], "latest", 1],
    ):
        r = rpc(w3, "eth_getProof", params)
        assert r["error"]["code"] == -32602, (params, r)
    monkeypatch.setattr(proof, "MAX_STORAGE_KEYS", 4)
    keys = [hex(i) for i in range(4)]
    assert len(rpc(w3, "eth_getProof", [addr, keys[:3]])["result"]["storageProof"]) == 3
    assert len(rpc(w3, "eth_getProof", [addr, keys])["result"]["storageProof"]) == 4
    over = rpc(w3, "eth_getProof", [addr, [*keys, "0x9"]])
    assert over["error"]["code"] == -32602 and "at most 4" in over["error"]["message"]
