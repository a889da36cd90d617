"""The shared vectors' ``eth_secp256k1`` part (``eth_txs``, ``personal_sign``) against the node.

Each ``eth_txs`` tx is signed by a coin-type-60 key under Ethermint's pubkey type: the
node's decoder reads its fields back, takes the signer as the key's keccak (Ethereum)
address, verifies the signature over keccak256 of the vector's SignDoc, and CheckTx on
a fresh App whose genesis holds that account (at the vector's number and sequence)
accepts it. The same tx with its pubkey relabelled ``/cosmos.crypto.secp256k1.PubKey``
is refused (it would be another account, and sha256 would not verify). Each
``personal_sign`` signature recovers, with eth_account and the gateway's own
``recover_eth``, to the signer's EIP-55 address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, TxRaw
from google.protobuf.json_format import MessageToDict

from chain.crypto import ETH_KEY_TAG, ETH_SECP256K1, verify_signature
from chain.keystore import key_from_mnemonic
from chain.tx import cosmos
from gateway.signin import recover_eth
from genesis.devnet import genesis_doc
from modules.auth import state as auth_state
from tests.support.chain import new_app

REPO = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((REPO / "sdk" / "vectors" / "vectors.json").read_text())
KEYS = {k["name"]: k for k in VECTORS["keys"]}
ETH_TXS = {t["name"]: t for t in VECTORS["eth_txs"]}


def test_the_eth_keys_are_what_the_node_derives() -> None:
    for k in VECTORS["keys"]:
        key = key_from_mnemonic(k["mnemonic"], algo=ETH_SECP256K1)
        e = k["ethereum"]
        assert key.secret.hex() == e["private_key"] and key.public_key.hex() == e["public_key"]
        assert key.address.hex() == e["address_hex"] and key.bech32 == e["address"]
        assert e["keys_only"] is False


@pytest.mark.parametrize("name", sorted(ETH_TXS))
def test_the_node_accepts_each_eth_secp256k1_tx(tmp_path: Path, name: str) -> None:
    vec = ETH_TXS[name]
    raw = bytes.fromhex(vec["tx_raw"])
    signer = KEYS[vec["signer"]]["ethereum"]
    assert vec["pubkey_type_url"] == "/ethermint.crypto.v1.ethsecp256k1.PubKey"
    doc = genesis_doc(extra_balances={signer["address"]: 10**6 * 10**18})
    doc["app_state"]["auth"]["accounts"].append(
        {
            "address": signer["address"],
            "account_number": vec["account_number"],
            "sequence": vec["sequence"],
        }
    )
    app = new_app(tmp_path / name, doc)
    try:
        ctx = app.check_ctx()
        tx = cosmos.decode(raw, app.routes, app.ante.rules(ctx).limits)
        assert tx.hash.hex().upper() == vec["tx_hash"]
        assert tx.signer.hex() == signer["address_hex"]  # the keccak address
        assert tx.pubkey is not None and tx.pubkey == bytes([ETH_KEY_TAG]) + bytes.fromhex(
            signer["public_key"]
        )
        assert tx.sequence == int(vec["sequence"]) and tx.memo == vec["memo"]
        ((_, msg),) = tx.msgs
        assert MessageToDict(msg) == vec["msg"]
        assert tx.body_bytes.hex() == vec["body_bytes"]
        assert tx.auth_info_bytes.hex() == vec["auth_info_bytes"]
        sign_doc = tx.sign_bytes(vec["chain_id"], int(vec["account_number"]))
        assert sign_doc.hex() == vec["sign_doc"] and tx.signature.hex() == vec["signature"]
        assert verify_signature(tx.pubkey, tx.signature, sign_doc)
        # over keccak256, not sha256: the same bytes as a plain secp256k1 key do not verify
        assert not verify_signature(bytes.fromhex(signer["public_key"]), tx.signature, sign_doc)
        key = key_from_mnemonic(KEYS[vec["signer"]]["mnemonic"], algo=ETH_SECP256K1)
        assert key.sign(sign_doc).hex() == vec["signature"]
        # the pubkey relabelled as a Cosmos secp256k1 key: another account, refused
        relabelled = TxRaw.FromString(raw)
        auth = AuthInfo.FromString(relabelled.auth_info_bytes)
        auth.signer_infos[0].public_key.type_url = "/cosmos.crypto.secp256k1.PubKey"
        relabelled.auth_info_bytes = auth.SerializeToString()
        assert app.check_tx(relabelled.SerializeToString()).code != 0
        r = app.check_tx(raw)
        assert r.code == 0, f"{r.codespace}/{r.code} {r.log}"
        acc = auth_state.get_account(app.check_ctx(), bytes.fromhex(signer["address_hex"]))
        assert acc is not None and acc.sequence == int(vec["sequence"]) + 1
    finally:
        app.close()


@pytest.mark.parametrize("i", range(len(VECTORS["personal_sign"])))
def test_each_personal_sign_recovers_to_its_signer(i: int) -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    v = VECTORS["personal_sign"][i]
    want = KEYS[v["signer"]]["ethereum"]["address_eip55"]
    sig = bytes.fromhex(v["signature"])
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert Account.recover_message(encode_defunct(text=v["message"]), signature=sig) == want
    assert recover_eth(v["message"], "0x" + v["signature"]) == want
