"""One account space: ``0x…`` and ``vcoin1…`` name the same 20 bytes, and Cosmos txs
take Ethermint's ``eth_secp256k1`` keys (keccak address, keccak256 sign bytes)
beside cosmpy's ``secp256k1`` keys."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import coincurve
import pytest
from coincurve.ecdsa import der_to_cdata, serialize_compact
from cosmpy.crypto.keypairs import PrivateKey as CosmpyKey
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import (
    AuthInfo,
    Fee,
    ModeInfo,
    SignDoc,
    SignerInfo,
    TxBody,
    TxRaw,
)
from eth_keys import keys as eth_keys
from eth_utils import to_checksum_address
from google.protobuf.any_pb2 import Any as AnyPb

from app.app import App
from chain.crypto import (
    ETH_SECP256K1,
    AddressError,
    PrivateKey,
    account_key,
    eth_address_of,
    keccak256,
    key_address,
    parse_address,
    pubkey_to_address,
    to_bech32,
    to_eth_address,
    verify_signature,
)
from chain.sigverify import SigVerifier, verify_chunk
from modules.auth import state as auth_state
from modules.drip.ante import sponsored_claim
from modules.drip.msgs import MsgFundPool
from modules.drip.params import Params as DripParams
from tests.support.chain import (
    ALICE,
    BOB,
    CHAIN_ID,
    FEE,
    GAS_LIMIT,
    Chain,
    assert_ok,
    make_genesis,
    new_app,
)

SECP_URL = "/cosmos.crypto.secp256k1.PubKey"
ETH_URL = "/ethermint.crypto.v1.ethsecp256k1.PubKey"
SECRET = hashlib.sha256(b"eth_secp256k1 test key").digest()
VCN = 10**18

# EIP-55's own test vectors (https://eips.ethereum.org/EIPS/eip-55)
EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


# -- addresses ------------------------------------------------------------------


@pytest.mark.parametrize("text", EIP55)
def test_eip55_vectors_parse_and_print_back(text: str) -> None:
    raw = parse_address(text)
    assert len(raw) == 20 and raw == bytes.fromhex(text[2:])
    assert to_eth_address(raw) == text
    assert parse_address(to_bech32(raw)) == raw  # the same account as vcoin1…


def test_both_forms_round_trip_and_agree_with_eth_utils() -> None:
    for i in range(50):
        raw = hashlib.sha256(b"addr %d" % i).digest()[:20]
        hexed = to_eth_address(raw)
        assert hexed == to_checksum_address(raw)
        assert parse_address(hexed) == parse_address(to_bech32(raw)) == raw
        assert parse_address(hexed.lower()) == raw  # no checksum: taken as it is
        assert parse_address("0x" + hexed[2:].upper()) == raw


def test_a_wrong_checksum_is_refused_saying_so() -> None:
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    bad = good[:3] + good[3].swapcase() + good[4:]  # one letter's case flipped
    with pytest.raises(AddressError, match="wrong EIP-55 checksum"):
        parse_address(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", "38 hex digits"),
        ("0x" + "ab" * 32, "64 hex digits"),
        ("0x", "0 hex digits"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeZ", "40 hex digits"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA d", "40 hex digits"),
        ("", "empty"),
        (to_bech32(b"\x01" * 32), "must encode 20 bytes"),
        ("cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu", "prefix"),
    ],
)
def test_malformed_addresses_are_refused(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        parse_address(text)


def test_eth_address_of_a_key_compressed_or_not() -> None:
    pub = coincurve.PrivateKey(SECRET).public_key
    want = bytes.fromhex(eth_keys.PrivateKey(SECRET).public_key.to_address()[2:])
    assert eth_address_of(pub.format(compressed=True)) == want
    assert eth_address_of(pub.format(compressed=False)) == want
    with pytest.raises(ValueError, match="33 bytes"):
        eth_address_of(b"\x02" * 32)
    # the typed key's address follows its type
    assert key_address(account_key(pub.format())) == pubkey_to_address(pub.format())
    assert key_address(account_key(pub.format(), ETH_SECP256K1)) == want


# -- txs signed by hand ---------------------------------------------------------


def _compact(der: bytes) -> bytes:
    return bytes(serialize_compact(der_to_cdata(der)))


def hand_tx(
    secret: bytes,
    to: str,
    amount: int,
    *,
    account_number: int,
    sequence: int,
    url: str = ETH_URL,
    digest: Callable[[bytes], bytes] = keccak256,
    sender: str | None = None,
) -> bytes:
    """A MsgSend built from cosmpy's protobufs and signed with coincurve over
    ``digest(SignDoc)``; the sender is the key's keccak address unless given."""
    key = coincurve.PrivateKey(secret)
    pub = key.public_key.format(compressed=True)
    frm = sender or to_bech32(eth_address_of(pub))
    msg = MsgSend(from_address=frm, to_address=to, amount=[Coin(denom="avcn", amount=str(amount))])
    any_msg = AnyPb()
    any_msg.Pack(msg, type_url_prefix="/")
    body = TxBody(messages=[any_msg]).SerializeToString()
    signer = SignerInfo(
        public_key=AnyPb(type_url=url, value=PubKey(key=pub).SerializeToString()),
        mode_info=ModeInfo(single=ModeInfo.Single(mode=SignMode.SIGN_MODE_DIRECT)),
        sequence=sequence,
    )
    fee = Fee(amount=[Coin(denom="avcn", amount=str(FEE))], gas_limit=GAS_LIMIT)
    auth = AuthInfo(signer_infos=[signer], fee=fee).SerializeToString()
    doc = SignDoc(
        body_bytes=body, auth_info_bytes=auth, chain_id=CHAIN_ID, account_number=account_number
    ).SerializeToString()
    sig = _compact(key.sign(digest(doc), hasher=None))
    return bytes(TxRaw(body_bytes=body, auth_info_bytes=auth, signatures=[sig]).SerializeToString())


def _sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


@pytest.fixture
def funded(chain: Chain) -> tuple[Chain, bytes, int]:
    """The eth key's keccak address funded with 10 VCN: (chain, address, account number)."""
    addr = eth_address_of(coincurve.PrivateKey(SECRET).public_key.format())
    assert_ok(chain.deliver_one(chain.send(ALICE, to_bech32(addr), 10 * VCN)))
    return chain, addr, chain.account_number(addr)


def test_an_eth_secp256k1_tx_moves_the_keccak_address_coins(
    funded: tuple[Chain, bytes, int],
) -> None:
    chain, addr, number = funded
    before, bob_before = chain.balance(addr), chain.balance(BOB)
    raw = hand_tx(SECRET, BOB.bech32, 3 * VCN, account_number=number, sequence=0)
    assert_ok(chain.check(raw))
    assert_ok(chain.deliver_one(raw))
    assert chain.balance(addr) == before - 3 * VCN - FEE
    assert chain.balance(BOB) == bob_before + 3 * VCN
    # the account remembers the key and its type; a later tx carries no key and is
    # checked by the eth rule
    acc = chain.app.custom_query("auth", "account", {"address": to_eth_address(addr)})
    assert acc["pub_key_type"] == "eth_secp256k1" and acc["sequence"] == "1"
    assert acc["address"] == to_bech32(addr)
    raw2 = hand_tx(SECRET, BOB.bech32, 1, account_number=number, sequence=1)
    assert_ok(chain.deliver_one(raw2))
    assert chain.balance(addr) == before - 3 * VCN - 1 - 2 * FEE


def test_the_same_bytes_as_a_secp256k1_key_are_refused(
    funded: tuple[Chain, bytes, int],
) -> None:
    chain, addr, number = funded
    raw = hand_tx(SECRET, BOB.bech32, 1, account_number=number, sequence=0, url=SECP_URL)
    r = chain.check(raw)
    assert (r.codespace, r.code) == ("sdk", 8), r.log
    assert "does not belong to the messages' signer" in r.log
    assert "as a secp256k1 key" in r.log
    assert chain.deliver_one(raw).code != 0 and chain.sequence(addr) == 0


def test_an_eth_key_signing_sha256_is_refused(funded: tuple[Chain, bytes, int]) -> None:
    chain, addr, number = funded
    raw = hand_tx(SECRET, BOB.bech32, 1, account_number=number, sequence=0, digest=_sha256)
    r = chain.check(raw)
    assert (r.codespace, r.code) == ("sdk", 4), r.log
    assert "signature verification failed" in r.log
    assert chain.balance(addr) == 10 * VCN


def test_a_secp256k1_key_claiming_its_keccak_address_is_refused(chain: Chain) -> None:
    """A Cosmos secp256k1 key does not control its Ethereum address."""
    secret = ALICE.secret
    eth_addr = eth_address_of(ALICE.public_key)
    assert_ok(chain.deliver_one(chain.send(ALICE, to_bech32(eth_addr), VCN)))
    number = chain.account_number(eth_addr)
    raw = hand_tx(
        secret, BOB.bech32, 1, account_number=number, sequence=0, url=SECP_URL, digest=_sha256
    )
    r = chain.check(raw)
    assert (r.codespace, r.code) == ("sdk", 8) and "does not belong" in r.log


def test_a_cosmpy_secp256k1_tx_still_passes(chain: Chain) -> None:
    cosmpy_key = CosmpyKey(ALICE.secret)
    assert cosmpy_key.public_key.public_key_bytes == ALICE.public_key
    number, seq = chain.account_number(ALICE), chain.sequence(ALICE)
    before = chain.balance(BOB)

    raw_unsigned = hand_tx(
        ALICE.secret,
        BOB.bech32,
        7,
        account_number=number,
        sequence=seq,
        url=SECP_URL,
        digest=_sha256,
        sender=ALICE.bech32,
    )
    tx = TxRaw.FromString(raw_unsigned)
    doc = SignDoc(
        body_bytes=tx.body_bytes,
        auth_info_bytes=tx.auth_info_bytes,
        chain_id=CHAIN_ID,
        account_number=number,
    ).SerializeToString()
    del tx.signatures[:]
    tx.signatures.append(cosmpy_key.sign(doc, deterministic=True))  # cosmpy's own signature
    assert_ok(chain.deliver_one(tx.SerializeToString()))
    assert chain.balance(BOB) == before + 7


def test_sign_tx_with_an_eth_key_uses_the_eth_type(funded: tuple[Chain, bytes, int]) -> None:
    chain, addr, _ = funded
    key = PrivateKey(SECRET, ETH_SECP256K1)
    assert key.address == addr and key.eth_address == addr
    raw = chain.sign(key, [_send(key.bech32, BOB.bech32, 5)])
    auth = AuthInfo.FromString(TxRaw.FromString(raw).auth_info_bytes)
    assert auth.signer_infos[0].public_key.type_url == ETH_URL
    assert_ok(chain.deliver_one(raw))


def _send(frm: str, to: str, amount: int) -> MsgSend:
    return MsgSend(from_address=frm, to_address=to, amount=[Coin(denom="avcn", amount=str(amount))])


# -- state, genesis, the signature helper -----------------------------------------


def test_stored_keys_keep_their_type_and_old_records_read_as_secp256k1() -> None:
    pub = coincurve.PrivateKey(SECRET).public_key.format()
    eth = auth_state.Account(eth_address_of(pub), 5, 2, account_key(pub, ETH_SECP256K1))
    assert auth_state.Account.decode(eth.address, eth.encode()) == eth
    # a record written before key types: a bare 33-byte key
    old = b"\x00" + (5).to_bytes(8, "big") + (2).to_bytes(8, "big") + bytes([33]) + pub
    acc = auth_state.Account.decode(pubkey_to_address(pub), old)
    assert acc.pubkey == pub and key_address(pub) == acc.address


def test_genesis_export_and_import_keep_the_key_type(
    funded: tuple[Chain, bytes, int], make_app: Callable[..., App]
) -> None:
    chain, addr, number = funded
    assert_ok(chain.deliver_one(hand_tx(SECRET, BOB.bech32, 1, account_number=number, sequence=0)))
    exported = chain.app.export_genesis()
    (entry,) = [a for a in exported["auth"]["accounts"] if a["address"] == to_bech32(addr)]
    assert entry["pub_key_type"] == "eth_secp256k1" and len(bytes.fromhex(entry["pub_key"])) == 33
    alice = next(a for a in exported["auth"]["accounts"] if a["address"] == ALICE.bech32)
    assert "pub_key_type" not in alice  # secp256k1 entries read as before
    doc: dict[str, Any] = make_genesis()
    doc["app_state"] = exported
    again = Chain(make_app(doc))
    assert again.app.export_genesis()["auth"] == exported["auth"]
    acc = again.account(addr)
    assert acc is not None and acc.pubkey == account_key(
        coincurve.PrivateKey(SECRET).public_key.format(), ETH_SECP256K1
    )
    # the restored account signs on without carrying its key
    raw = hand_tx(SECRET, BOB.bech32, 1, account_number=number, sequence=1)
    assert_ok(again.deliver_one(raw))


def test_genesis_refuses_an_unknown_key_type(tmp_path: Any) -> None:
    doc = make_genesis()
    pub = coincurve.PrivateKey(SECRET).public_key.format()
    doc["app_state"]["auth"]["accounts"].append(
        {
            "address": to_bech32(eth_address_of(pub)),
            "account_number": "900",
            "pub_key": pub.hex(),
            "pub_key_type": "ed25519",
        }
    )
    with pytest.raises(Exception, match="pub_key_type 'ed25519'"):
        new_app(tmp_path / "bad", doc)


def test_the_signature_helper_checks_by_the_key_type() -> None:
    pub = coincurve.PrivateKey(SECRET).public_key.format()
    eth_key = account_key(pub, ETH_SECP256K1)
    body, auth = b"\x0a\x00", b"\x12\x00"
    doc = SignDoc(
        body_bytes=body, auth_info_bytes=auth, chain_id=CHAIN_ID, account_number=3
    ).SerializeToString()
    k = coincurve.PrivateKey(SECRET)
    eth_sig = _compact(k.sign(keccak256(doc), hasher=None))
    sha_sig = _compact(k.sign(doc))
    got = verify_chunk(
        CHAIN_ID,
        [
            (eth_key, eth_sig, body, auth, 3),
            (pub, eth_sig, body, auth, 3),
            (eth_key, sha_sig, body, auth, 3),
            (pub, sha_sig, body, auth, 3),
        ],
    )
    assert got == bytes([1, 0, 0, 1])
    assert verify_signature(eth_key, eth_sig, doc) and not verify_signature(pub, eth_sig, doc)
    # through the helper process: the answer is for the typed key it was asked about,
    # and is not taken for the same key bytes of the other type
    helper = SigVerifier(workers=1, min_txs=1)
    try:
        checks = helper.begin_block(CHAIN_ID, 2)
        checks.add(0, (eth_key, eth_sig, body, auth, 3))
        checks.add(1, (eth_key, sha_sig, body, auth, 3))
        checks.flush()
        deadline = time.monotonic() + 30
        while helper.answers(0) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checks.verdict(0, eth_key, 3) is True
        assert checks.verdict(1, eth_key, 3) is False
        assert checks.verdict(0, pub, 3) is None  # checked inline instead
    finally:
        helper.close()


def test_a_high_s_eth_signature_is_refused() -> None:
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    k = PrivateKey(SECRET, ETH_SECP256K1)
    sig = k.sign(b"doc")
    high = sig[:32] + (n - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")
    assert verify_signature(k.account_key, sig, b"doc")
    assert not verify_signature(k.account_key, high, b"doc")


def test_a_new_eth_key_claims_its_drip_and_keeps_its_type(chain: Chain) -> None:
    """The sponsored first tx of a key the chain has never seen opens its account
    with the eth key; the account is the key's Ethereum address."""
    drip = DripParams().drip_amount
    assert_ok(
        chain.deliver_one(
            chain.sign(ALICE, [MsgFundPool(depositor=ALICE.bech32, amount=str(drip))])
        )
    )
    key = PrivateKey(hashlib.sha256(b"eth drip newbie").digest(), ETH_SECP256K1)
    r = chain.deliver_one(sponsored_claim(key, CHAIN_ID))
    assert_ok(r)
    acc = chain.account(key.eth_address)
    assert acc is not None and acc.pubkey == key.account_key and acc.sequence == 1
    assert chain.balance(key.eth_address) == drip
