"""The shared SDK test vectors (``sdk/vectors/vectors.json``) against the node.

* The committed file is what a fresh ``sdk/vectors/generate.py`` writes.
* Each key vector is what the node derives (mnemonic -> key -> address), and
  each bad input is one the node refuses.
* Each signed tx is one the node accepts: its own decoder reads the vector's
  message, signer, sequence, fee, gas and memo back; the signature verifies over
  the vector's SignDoc; and CheckTx on a fresh App takes it. That App's genesis
  holds the signer's account at the vector's account number and sequence, funded
  (``auth`` genesis accounts may carry both), so the ante handler sees exactly
  what the vector was signed for. Messages that need earlier chain state (a job
  to cancel, claim or attest, a bond to unbond) fail in their handler; for
  those the test asserts that the ante accepted the tx (fee and signature
  checked first) by asserting that the refusal comes from the message's module,
  which runs only after the ante; CheckTx keeps no effect of a tx it refuses.
  A tx with one signature byte changed is refused by the ante.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxRaw
from google.protobuf.json_format import MessageToDict

from app.app import App
from chain.coins import parse_coin_str
from chain.crypto import AddressError, from_bech32, verify_signature
from chain.errors import ChainError
from chain.keystore import KeystoreError, key_from_mnemonic, normalise_mnemonic
from chain.tx import cosmos
from genesis.devnet import genesis_doc
from modules.auth import state as auth_state
from tests.support.chain import new_app

REPO = Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO / "sdk" / "vectors" / "vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
TXS = {t["name"]: t for t in VECTORS["txs"]}
KEYS = {k["name"]: k for k in VECTORS["keys"]}
# Vectors whose message needs no earlier chain state: CheckTx must answer code 0.
STATE_FREE = {
    "bank_send",
    "bank_send_memo",
    "jobs_post_job",
    "jobs_post_job_artifact",
    "staking_bond",
    "jobs_register_worker",
}


def test_committed_vectors_equal_a_fresh_generation() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "sdk" / "vectors" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name", sorted(KEYS))
def test_key_vectors_are_what_the_node_derives(name: str) -> None:
    k = KEYS[name]
    key = key_from_mnemonic(k["mnemonic"])
    c = k["cosmos"]
    assert key.secret.hex() == c["private_key"]
    assert key.public_key.hex() == c["public_key"]
    assert key.address.hex() == c["address_hex"]
    assert from_bech32(c["address"]) == key.address
    assert c["address_eip55"].lower() == "0x" + c["address_hex"]
    assert k["ethereum"]["keys_only"] is False  # eth_secp256k1 keys sign txs too


def test_bad_inputs_are_refused_by_the_node() -> None:
    kinds = set()
    for bad in VECTORS["bad_inputs"]:
        kind, text = bad["kind"], bad["input"]
        kinds.add(kind)
        if kind.startswith("bad_mnemonic"):
            with pytest.raises(KeystoreError):
                normalise_mnemonic(text)
        elif kind.startswith("bad_bech32"):
            with pytest.raises(AddressError):
                from_bech32(text)
        elif kind in ("too_many_decimals", "bad_amount"):
            with pytest.raises(ChainError):
                parse_coin_str(text)
        else:
            assert kind == "bad_eip55_checksum"
            good = next(
                k["cosmos"]["address_eip55"]
                for k in VECTORS["keys"]
                if k["cosmos"]["address_eip55"].lower() == text.lower()
            )
            assert good != text
    assert {"bad_mnemonic_checksum", "bad_bech32_checksum", "bad_eip55_checksum",
            "too_many_decimals"} <= kinds


def test_amount_vectors_are_what_the_node_parses() -> None:
    for a in VECTORS["amounts"]:
        coins = parse_coin_str(a["input"])
        assert [{"denom": d, "amount": str(n)} for d, n in coins] == a["coins"]


def _app_for(tmp_path: Path, vec: dict[str, Any]) -> App:
    """A fresh App whose genesis holds the vector's signer at its account number
    and sequence, with 1M VCN."""
    signer = KEYS[vec["signer"]]["cosmos"]
    doc = genesis_doc(extra_balances={signer["address"]: 10**6 * 10**18})
    doc["app_state"]["auth"]["accounts"].append(
        {
            "address": signer["address"],
            "account_number": vec["account_number"],
            "sequence": vec["sequence"],
        }
    )
    return new_app(tmp_path / vec["name"], doc)


@pytest.mark.parametrize("name", sorted(TXS))
def test_the_node_accepts_each_signed_tx(tmp_path: Path, name: str) -> None:
    vec = TXS[name]
    raw = bytes.fromhex(vec["tx_raw"])
    signer = KEYS[vec["signer"]]["cosmos"]
    app = _app_for(tmp_path, vec)
    try:
        ctx = app.check_ctx()
        tx = cosmos.decode(raw, app.routes, app.ante.rules(ctx).limits)
        # the node's decoder reads back what the vector says
        assert tx.hash.hex().upper() == vec["tx_hash"]
        assert tx.signer.hex() == signer["address_hex"]
        assert tx.pubkey is not None and tx.pubkey.hex() == signer["public_key"]
        assert tx.sequence == int(vec["sequence"])
        assert tx.gas_limit == int(vec["gas_limit"])
        assert tx.memo == vec["memo"]
        assert [{"denom": d, "amount": str(n)} for d, n in tx.fee] == vec["fee"]
        assert len(tx.msgs) == 1
        (_, msg), = tx.msgs
        assert "/" + msg.DESCRIPTOR.full_name == vec["type_url"]
        assert MessageToDict(msg) == vec["msg"]
        assert msg.SerializeToString().hex() == vec["msg_bytes"]
        assert tx.body_bytes.hex() == vec["body_bytes"]
        assert tx.auth_info_bytes.hex() == vec["auth_info_bytes"]
        # the signature over the vector's SignDoc
        doc = tx.sign_bytes(vec["chain_id"], int(vec["account_number"]))
        assert doc.hex() == vec["sign_doc"]
        assert tx.signature.hex() == vec["signature"]
        assert verify_signature(tx.pubkey, tx.signature, doc)
        # a changed signature byte: the ante refuses it and spends no sequence
        bad = TxRaw.FromString(raw)
        sig = bytearray(bad.signatures[0])
        sig[5] ^= 1
        bad.signatures[0] = bytes(sig)
        r_bad = app.check_tx(bad.SerializeToString())
        assert r_bad.code != 0 and r_bad.codespace == "sdk", r_bad.log
        assert "signature" in r_bad.log
        # CheckTx on the App
        r = app.check_tx(raw)
        if name in STATE_FREE:
            assert r.code == 0, f"{r.codespace}/{r.code} {r.log}"
            acc = auth_state.get_account(app.check_ctx(), bytes.fromhex(signer["address_hex"]))
            assert acc is not None and acc.sequence == int(vec["sequence"]) + 1
        else:
            # the ante runs first (fee, sequence, signature), so a refusal from the
            # message's own module means the ante accepted the tx
            module = vec["type_url"].split(".")[1]
            assert r.code != 0 and r.codespace == module, f"{r.codespace}/{r.code} {r.log}"
    finally:
        app.close()
