"""Write ``sdk/vectors/vectors.json``: the bytes every VCoin SDK must produce and accept.

Run with the node's virtual environment, from the repository root::

    .venv/bin/python sdk/vectors/generate.py           # rewrite vectors.json
    .venv/bin/python sdk/vectors/generate.py --check   # fail if it differs

The reference is the node's own code: ``chain.keystore.key_from_mnemonic``
(BIP-39/44 at m/44'/118'/0'/0/0), ``chain.crypto`` (addresses, bech32),
``chain.coins.parse_coin_str`` (amounts), ``chain.tx.sign.sign_tx`` (SIGN_MODE_DIRECT)
and the generated ``modules/*/tx_pb2.py``; the ``eth_secp256k1`` txs are
``chain.tx.sign.sign_tx`` with an ``eth_secp256k1`` key (Ethermint's
``/ethermint.crypto.v1.ethsecp256k1.PubKey``, signature over keccak256 of the SignDoc).
The Ethereum forms (EIP-55, the coin-type-60 key and its keccak address, EIP-191
``personal_sign``) are checked against ``eth_keys``, ``eth_utils`` and ``eth_account``
(installed with the node's lock).
The format is described in ``sdk/vectors/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cosmpy.mnemonic import derive_child_key_from_mnemonic  # noqa: E402
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend  # noqa: E402
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin  # noqa: E402
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import SignDoc, TxRaw  # noqa: E402
from eth_keys.datatypes import PrivateKey as EthPrivateKey  # noqa: E402
from eth_utils.address import to_checksum_address  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402
from google.protobuf.message import Message  # noqa: E402

from chain.coins import parse_coin_str  # noqa: E402
from chain.crypto import (  # noqa: E402
    ETH_SECP256K1,
    AddressError,
    PrivateKey,
    from_bech32,
    to_bech32,
)
from chain.errors import ChainError  # noqa: E402
from chain.keystore import KeystoreError, key_from_mnemonic, normalise_mnemonic  # noqa: E402
from chain.tx.sign import sign_tx  # noqa: E402
from genesis.devnet import CHAIN_ID  # noqa: E402
from modules.jobs.tx_pb2 import (  # noqa: E402
    ExecutionReceipt,
    MsgCancelJob,
    MsgClaimJob,
    MsgPostJob,
    MsgRegisterWorker,
    MsgSubmitResult,
)
from modules.reputation.tx_pb2 import MsgHeartbeat  # noqa: E402
from modules.staking.tx_pb2 import MsgBond, MsgUnbond  # noqa: E402
from modules.verification.records import PASS  # noqa: E402
from modules.verification.tx_pb2 import MsgAttest  # noqa: E402

OUT = Path(__file__).resolve().parent / "vectors.json"
VERSION = 1
COSMOS_PATH = "m/44'/118'/0'/0/0"
ETH_PATH = "m/44'/60'/0'/0/0"
VCN = 10**18
TINY_LM_WEIGHTS = "e92dced5cb0c3cee117121d3297dae4065285020a8ddee767160b74a72d8ad8f"
GAS_PRICE = 1_000_000_000  # the auth module's default min_gas_price, avcn per gas

MNEMONICS = {
    # BIP-39's all-zero 128-bit entropy: the usual first test mnemonic
    "abandon": "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon abandon about",
    # BIP-39 test vector 0x7f7f… (12 words)
    "legal": "legal winner thank year wave sausage worth useful legal winner thank yellow",
    # BIP-39 test vector 0x8080… (24 words)
    "letter": "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd "
    "amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
}


def eip55(addr20: bytes) -> str:
    return str(to_checksum_address(addr20))


def key_vector(name: str, mnemonic: str) -> dict[str, Any]:
    key = key_from_mnemonic(mnemonic)
    eth_secret = bytes(derive_child_key_from_mnemonic(mnemonic, None, ETH_PATH))
    eth_pk = EthPrivateKey(eth_secret).public_key
    eth_addr = eth_pk.to_canonical_address()
    return {
        "name": name,
        "mnemonic": mnemonic,
        "bip39_passphrase": "",
        "cosmos": {
            "path": COSMOS_PATH,
            "algo": "secp256k1",
            "private_key": key.secret.hex(),
            "public_key": key.public_key.hex(),
            "address_hex": key.address.hex(),
            "address": key.bech32,
            "address_eip55": eip55(key.address),
        },
        "ethereum": {
            "keys_only": False,
            "path": ETH_PATH,
            "algo": "eth_secp256k1",
            "private_key": eth_secret.hex(),
            "public_key": eth_pk.to_compressed_bytes().hex(),
            "public_key_uncompressed": eth_pk.to_bytes().hex(),
            "address_hex": eth_addr.hex(),
            "address_eip55": eip55(eth_addr),
            "address": to_bech32(eth_addr),
        },
    }


def _expect_error(kind: str, fn: Any, value: str, exc: type[Exception]) -> dict[str, Any]:
    try:
        fn(value)
    except exc as e:
        return {"kind": kind, "input": value, "node_error": str(e)}
    raise AssertionError(f"the node accepts {value!r}; it is not a bad input")


def _bad_eip55(addr20: bytes) -> str:
    """The EIP-55 form with the case of its first letter flipped."""
    good = eip55(addr20)
    i = next(i for i, c in enumerate(good) if i >= 2 and c.isalpha())
    return good[:i] + good[i].swapcase() + good[i + 1 :]


def _bad_bech32(addr: str) -> str:
    """The bech32 form with its last checksum character replaced."""
    last = addr[-1]
    return addr[:-1] + ("q" if last != "q" else "p")


def _check_eip55(text: str) -> None:
    if eip55(bytes.fromhex(text[2:])) != text:
        raise ValueError("EIP-55 checksum mismatch")


def bad_inputs(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    words = MNEMONICS["abandon"].split()
    bad_mnemonic = " ".join(words[:-1] + ["abandon"])  # valid words, wrong checksum word
    a = keys[0]["cosmos"]
    out = [
        _expect_error("bad_mnemonic_checksum", normalise_mnemonic, bad_mnemonic, KeystoreError),
        _expect_error("bad_mnemonic_word", normalise_mnemonic, " ".join(words[:-1] + ["abandonn"]),
                      KeystoreError),
        _expect_error("bad_mnemonic_length", normalise_mnemonic, " ".join(words[:11]),
                      KeystoreError),
        _expect_error("bad_bech32_checksum", from_bech32, _bad_bech32(a["address"]), AddressError),
        _expect_error("bad_bech32_prefix", from_bech32,
                      to_bech32(bytes.fromhex(a["address_hex"]), "cosmos"), AddressError),
        _expect_error("bad_eip55_checksum", _check_eip55,
                      _bad_eip55(bytes.fromhex(a["address_hex"])), ValueError),
        _expect_error("too_many_decimals", parse_coin_str, "1.0000000000000000001VCN",
                      ChainError),
        _expect_error("bad_amount", parse_coin_str, "1.5avcn", ChainError),
        _expect_error("bad_amount", parse_coin_str, "-1VCN", ChainError),
    ]
    for o in out:
        # the node's message text is informative, not part of the contract
        o.pop("node_error")
    return out


def amounts() -> list[dict[str, Any]]:
    """Good amounts as a user types them -> the coins a message carries."""
    texts = ["1VCN", "1.5VCN", "0.000000000000000001VCN", "1000avcn", "2.000000000000000000VCN",
             "115792089237316195423570985008687907853269984665640564039457.584007913129639935VCN"]
    out = []
    for t in texts:
        coins = parse_coin_str(t)
        out.append({"input": t, "coins": [{"denom": d, "amount": str(n)} for d, n in coins]})
    return out


def _json(msg: Message) -> dict[str, Any]:
    return MessageToDict(msg, preserving_proto_field_name=False)


Case = tuple[str, PrivateKey, Message, int, int, int, str]


def tx_vectors(
    keys: dict[str, PrivateKey], given: list[Case] | None = None
) -> list[dict[str, Any]]:
    alice, bob, carol = keys["abandon"], keys["legal"], keys["letter"]
    a, b, c = alice.bech32, bob.bech32, carol.bech32
    receipt_sig = carol.sign(b"vcoin sdk vector receipt")
    out_hash = hashlib.sha256(b"vcoin sdk vector output").hexdigest()
    in_bytes = b'{"prompts": ["The GPU marketplace"]}'
    # (name, signer, message, account_number, sequence, gas, memo)
    cases: list[tuple[str, PrivateKey, Message, int, int, int, str]] = [
        ("bank_send", alice,
         MsgSend(from_address=a, to_address=b,
                 amount=[Coin(denom="avcn", amount=str(VCN + VCN // 2))]),
         12, 0, 200_000, ""),
        ("bank_send_memo", bob,
         MsgSend(from_address=b, to_address=a, amount=[Coin(denom="avcn", amount="1")]),
         13, 7, 120_000, "sdk vector: héllo ✓"),
        ("jobs_post_job", alice,
         MsgPostJob(poster=a, task_type="text-generation", model="tiny-lm",
                    inline_input=in_bytes, spec='{"params": {"max_new_tokens": 16}}',
                    max_price=str(2 * VCN)),
         12, 1, 300_000, ""),
        ("jobs_post_job_artifact", alice,
         MsgPostJob(poster=a, task_type="embedding", model="all-minilm-l6-v2",
                    input_hash=hashlib.sha256(in_bytes).hexdigest(), max_price="5000",
                    priority=3, claim_blocks=100, result_blocks=50, min_gpu_memory_mib=8192,
                    min_gpu_count=1, gpu_model="H200"),
         12, 2, 300_000, ""),
        ("jobs_cancel_job", alice, MsgCancelJob(poster=a, job_id=1), 12, 3, 200_000, ""),
        ("staking_bond", carol,
         MsgBond(address=c, role="worker", amount=Coin(denom="avcn", amount=str(1_000 * VCN))),
         14, 0, 200_000, ""),
        ("staking_unbond", carol,
         MsgUnbond(address=c, role="worker", amount=Coin(denom="avcn", amount=str(500 * VCN))),
         14, 5, 200_000, ""),
        ("jobs_register_worker", carol,
         MsgRegisterWorker(worker=c, gpu_model="H200", memory_mib=143_771, gpu_count=1,
                           task_types=["text-generation", "embedding"],
                           models=["tiny-lm", "all-minilm-l6-v2"], price_floor="1000",
                           max_concurrent=2),
         14, 1, 200_000, ""),
        ("jobs_claim_job", carol, MsgClaimJob(worker=c, job_id=1), 14, 2, 200_000, ""),
        ("jobs_submit_result", carol,
         MsgSubmitResult(worker=c, job_id=1, output_hash=out_hash, artifact_ref=out_hash,
                         compute_units=42,
                         receipt=ExecutionReceipt(
                             image_digest="sha256:" + "ab" * 32,
                             model_hash=TINY_LM_WEIGHTS,
                             input_hash=hashlib.sha256(in_bytes).hexdigest(),
                             output_hash=out_hash, signature=receipt_sig)),
         14, 3, 250_000, ""),
        ("reputation_heartbeat", carol, MsgHeartbeat(address=c), 14, 4, 100_000, ""),
        ("verification_attest", bob,
         MsgAttest(oracle=b, job_id=1, verdict=PASS, similarity_bps=9_876,
                   evidence_hash=out_hash, signature=bob.sign(b"vcoin sdk vector attest")),
         13, 8, 200_000, ""),
    ]
    out = []
    for name, key, msg, acc_num, seq, gas, memo in cases if given is None else given:
        fee = gas * GAS_PRICE
        raw = sign_tx(key, [msg], chain_id=CHAIN_ID, account_number=acc_num, sequence=seq,
                      gas_limit=gas, fee_amount=fee, memo=memo)
        tx = TxRaw.FromString(raw)
        doc = SignDoc(body_bytes=tx.body_bytes, auth_info_bytes=tx.auth_info_bytes,
                      chain_id=CHAIN_ID, account_number=acc_num)
        out.append({
            "name": name,
            "signer": next(k for k, v in keys.items() if v is key),
            "type_url": "/" + msg.DESCRIPTOR.full_name,
            "msg": _json(msg),
            "msg_bytes": msg.SerializeToString().hex(),
            "chain_id": CHAIN_ID,
            "account_number": str(acc_num),
            "sequence": str(seq),
            "fee": [{"denom": "avcn", "amount": str(fee)}],
            "gas_limit": str(gas),
            "memo": memo,
            "body_bytes": tx.body_bytes.hex(),
            "auth_info_bytes": tx.auth_info_bytes.hex(),
            "sign_doc": doc.SerializeToString().hex(),
            "signature": tx.signatures[0].hex(),
            "tx_raw": raw.hex(),
            "tx_hash": hashlib.sha256(raw).hexdigest().upper(),
        })
    return out


def eth_tx_vectors(mnemonics: dict[str, str]) -> list[dict[str, Any]]:
    """Txs signed by ``eth_secp256k1`` keys (coin type 60): the same fields as ``txs``;
    the signer's ``ethereum`` key, its pubkey under Ethermint's type URL."""
    from chain.tx.ethsecp256k1 import TYPE_URL

    keys = {n: key_from_mnemonic(m, algo=ETH_SECP256K1) for n, m in mnemonics.items()}
    alice, bob = keys["abandon"], keys["legal"]
    a, b = alice.bech32, bob.bech32
    out = []
    for vec in tx_vectors(keys, [
        ("eth_bank_send", alice,
         MsgSend(from_address=a, to_address=b, amount=[Coin(denom="avcn", amount=str(VCN))]),
         21, 0, 200_000, ""),
        ("eth_jobs_post_job", bob,
         MsgPostJob(poster=b, task_type="text-generation", model="tiny-lm",
                    inline_input=b'{"prompts": ["hi"]}', spec='{"params": {"max_new_tokens": 4}}',
                    max_price=str(VCN)),
         22, 3, 300_000, "eth_secp256k1"),
    ]):
        vec["pubkey_type_url"] = TYPE_URL
        out.append(vec)
    return out


def personal_sign_vectors(mnemonics: dict[str, str]) -> list[dict[str, Any]]:
    """EIP-191 ``personal_sign`` by the ``ethereum`` keys (the gateway's EIP-4361 sign-in):
    65 bytes r‖s‖v, v = 27 + recovery id, over keccak256("\\x19Ethereum Signed
    Message:\\n" + decimal byte length + message)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    texts = {
        "abandon": "vcoin sdk vector: personal_sign",
        "legal": "gateway.test wants you to sign in with your Ethereum account:\n"
        "0x58A57ed9d8d624cBD12e2C467D34787555bB1b25\n\nSign in to the VCoin gateway.\n\n"
        "URI: https://gateway.test\nVersion: 1\nChain ID: 22083\nNonce: 0123456789abcdef\n"
        "Issued At: 2026-01-01T00:00:00.000Z",
    }
    out = []
    for name, text in texts.items():
        secret = key_from_mnemonic(mnemonics[name], algo=ETH_SECP256K1).secret
        sig = Account.sign_message(encode_defunct(text=text), secret).signature
        out.append({"signer": name, "message": text, "signature": bytes(sig).hex()})
    return out


def build() -> dict[str, Any]:
    keys = [key_vector(n, m) for n, m in MNEMONICS.items()]
    pk = {n: key_from_mnemonic(m) for n, m in MNEMONICS.items()}
    return {
        "version": VERSION,
        "about": "VCoin SDK test vectors; see sdk/vectors/README.md. Generated by "
        "sdk/vectors/generate.py from the node's code: do not edit.",
        "bech32_prefix": "vcoin",
        "denom": "avcn",
        "display_denom": "VCN",
        "decimals": 18,
        "keys": keys,
        "amounts": amounts(),
        "bad_inputs": bad_inputs(keys),
        "txs": tx_vectors(pk),
        "eth_txs": eth_tx_vectors(MNEMONICS),
        "personal_sign": personal_sign_vectors(MNEMONICS),
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if vectors.json differs")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        if OUT.read_text() != text:
            print(f"{OUT} differs from a fresh generation; run {__file__}", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
