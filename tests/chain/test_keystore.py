"""The keystore: encrypted round trips, wrong passphrases, permissions, mnemonics."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cosmpy.aerial.wallet import LocalWallet

from chain.crypto import from_bech32
from chain.keystore import (
    DEFAULT_SCRYPT_N,
    LIGHT_SCRYPT_N,
    KeyExists,
    KeyNotFound,
    Keystore,
    KeystoreError,
    WrongPassphrase,
    key_from_mnemonic,
    normalise_mnemonic,
)

PASS = "correct horse battery"
# The well-known BIP-39 test mnemonic and its Cosmos Hub address (m/44'/118'/0'/0/0),
# as Keplr, gaiad and cosmjs derive it.
ABANDON = "abandon " * 11 + "about"
ABANDON_COSMOS = "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4"


@pytest.fixture
def ks(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path, scrypt_n=LIGHT_SCRYPT_N)


def test_encrypted_round_trip(ks: Keystore) -> None:
    info, mnemonic = ks.add("carol", PASS)
    assert info.encrypted and info.address.startswith("vcoin1")
    key = ks.load("carol", PASS)
    assert key.bech32 == info.address
    assert key.public_key.hex() == info.pubkey
    # The mnemonic restores the same key, in our keystore and in cosmpy's wallet.
    assert key_from_mnemonic(mnemonic).secret == key.secret
    assert LocalWallet.from_mnemonic(mnemonic, prefix="vcoin").address() == info.address
    # Export and re-import under another name give the same account.
    secret = ks.export("carol", PASS)
    again = ks.import_secret("carol2", secret, "another passphrase")
    assert again.address == info.address
    assert ks.load("carol2", "another passphrase").secret == key.secret


def test_secret_never_in_clear_in_an_encrypted_file(ks: Keystore) -> None:
    ks.add("carol", PASS)
    secret = ks.export("carol", PASS)
    text = ks.path("carol").read_text()
    assert secret not in text and secret.upper() not in text
    assert json.loads(text)["keyfile"]["crypto"]["kdf"] == "scrypt"


def test_default_encryption_strength(tmp_path: Path) -> None:
    info = Keystore(tmp_path).import_secret("k", "11" * 32, PASS)
    data = json.loads(Keystore(tmp_path).path("k").read_text())
    assert data["keyfile"]["crypto"]["kdfparams"]["n"] == DEFAULT_SCRYPT_N == 262144
    assert Keystore(tmp_path).load("k", PASS).bech32 == info.address


def test_wrong_passphrase_is_a_clear_error_and_writes_nothing(ks: Keystore) -> None:
    ks.add("carol", PASS)
    before = ks.path("carol").read_bytes()
    files = sorted(p.name for p in ks.dir.iterdir())
    with pytest.raises(WrongPassphrase, match="wrong passphrase for key 'carol'"):
        ks.load("carol", "not the passphrase")
    with pytest.raises(WrongPassphrase):
        ks.export("carol", "not the passphrase")
    with pytest.raises(WrongPassphrase, match="encrypted"):
        ks.load("carol")
    assert ks.path("carol").read_bytes() == before
    assert sorted(p.name for p in ks.dir.iterdir()) == files


def test_files_are_private(ks: Keystore) -> None:
    ks.add("carol", PASS)
    ks.import_secret("dev", "22" * 32, None, "test")
    assert stat.S_IMODE(ks.dir.stat().st_mode) == 0o700
    for p in ks.dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert not [p for p in ks.dir.iterdir() if p.suffix == ".tmp"]


def test_short_passphrase_refused_before_writing(ks: Keystore) -> None:
    with pytest.raises(KeystoreError, match="at least 8 characters"):
        ks.add("carol", "short")
    with pytest.raises(KeystoreError, match="at least 8 characters"):
        ks.import_secret("carol", "33" * 32, None)
    assert not ks.exists("carol")


def test_test_backend_is_labelled_and_needs_no_passphrase(ks: Keystore) -> None:
    info = ks.import_secret("dev", "44" * 32, None, "test")
    assert not info.encrypted and not ks.needs_passphrase("dev")
    assert ks.load("dev").secret.hex() == "44" * 32
    data = json.loads(ks.path("dev").read_text())
    assert data["backend"] == "test" and "UNENCRYPTED" in data["warning"]
    assert [(k.name, k.encrypted) for k in ks.list()] == [("dev", False)]


def test_list_show_delete(ks: Keystore) -> None:
    a = ks.import_secret("a", "55" * 32, PASS)
    b = ks.import_secret("b", "66" * 32, None, "test")
    (ks.dir / "notes.txt").write_text("not a key")
    assert [k.name for k in ks.list()] == ["a", "b"]
    assert ks.show("a") == a and ks.show("b") == b
    ks.delete("a")
    assert [k.name for k in ks.list()] == ["b"]
    with pytest.raises(KeyNotFound, match="no key named 'a'"):
        ks.show("a")


def test_duplicate_names_need_overwrite(ks: Keystore) -> None:
    ks.import_secret("a", "77" * 32, None, "test")
    with pytest.raises(KeyExists):
        ks.import_secret("a", "88" * 32, None, "test")
    assert ks.load("a").secret.hex() == "77" * 32
    ks.import_secret("a", "88" * 32, None, "test", overwrite=True)
    assert ks.load("a").secret.hex() == "88" * 32


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_bad_names_refused(ks: Keystore, name: str) -> None:
    with pytest.raises(KeystoreError, match="invalid key name"):
        ks.import_secret(name, "99" * 32, None, "test")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("zz" * 32, "not hex"),
        ("11" * 31, "31 bytes"),
        ("00" * 32, "outside the secp256k1 range"),
        ("ff" * 32, "outside the secp256k1 range"),
    ],
)
def test_bad_secrets_refused(ks: Keystore, secret: str, message: str) -> None:
    with pytest.raises(KeystoreError, match=message):
        ks.import_secret("k", secret, None, "test")
    assert not ks.exists("k")


def test_mnemonic_matches_the_cosmos_hd_path(ks: Keystore) -> None:
    info = ks.import_mnemonic("abandon", "  ABANDON " * 11 + "about\n", PASS)
    assert from_bech32(info.address) == from_bech32(ABANDON_COSMOS, "cosmos")


@pytest.mark.parametrize(
    ("mnemonic", "message"),
    [
        ("abandon " * 12, "checksum"),
        ("abandon " * 11, "12, 15, 18, 21 or 24 words"),
        ("abandon " * 11 + "bitcoinz", "not BIP-39"),
    ],
)
def test_bad_mnemonics_refused(mnemonic: str, message: str) -> None:
    with pytest.raises(KeystoreError, match=message):
        normalise_mnemonic(mnemonic)
