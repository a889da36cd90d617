"""The oracle's attestation key file: encrypted by default, refused with what to do when
it is missing, unreadable, of another format, locked, opened with the wrong passphrase,
or its public key does not match its seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from chain.keystore import KeystoreError, WrongPassphrase
from oracle.keys import FORMAT, load_ed25519, save_ed25519

KEY = SigningKey(bytes(range(32)))
PUB = bytes(KEY.verify_key).hex()


def test_an_encrypted_key_round_trips_and_keeps_no_seed_in_clear(tmp_path: Path) -> None:
    p = tmp_path / "k.json"
    assert save_ed25519(p, KEY, "pw", cost="interactive") == PUB
    doc = json.loads(p.read_text())
    assert doc["format"] == FORMAT and doc["backend"] == "file" and "seed" not in doc
    assert bytes(range(32)).hex() not in p.read_text()
    assert (p.stat().st_mode & 0o777) == 0o600
    assert bytes(load_ed25519(p, "pw")) == bytes(KEY)
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        load_ed25519(p, "other")
    with pytest.raises(WrongPassphrase, match="a passphrase is needed"):
        load_ed25519(p, None)


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    p = tmp_path / "k.json"
    with pytest.raises(KeystoreError, match="a passphrase is needed to encrypt"):
        save_ed25519(p, KEY, "", cost="interactive")
    with pytest.raises(KeystoreError, match="unknown keyring backend 'os'; use file or test"):
        save_ed25519(p, KEY, "pw", backend="os")
    assert not p.exists()
    save_ed25519(p, KEY, None, backend="test")
    with pytest.raises(KeystoreError, match="already exists; delete it or pass --force"):
        save_ed25519(p, KEY, None, backend="test")
    save_ed25519(p, SigningKey(bytes(32)), None, backend="test", overwrite=True)
    assert bytes(load_ed25519(p, None)) == bytes(32)
    with pytest.raises(KeystoreError, match="run `vcoin-oracle init`"):
        load_ed25519(tmp_path / "none.json", None)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(KeystoreError, match="cannot read"):
        load_ed25519(tmp_path / "junk.json", None)
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(KeystoreError, match=f"is not a {FORMAT} key file"):
        load_ed25519(tmp_path / "other.json", None)


def test_a_public_key_that_does_not_match_the_seed_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "k.json"
    save_ed25519(p, KEY, None, backend="test")
    doc = json.loads(p.read_text())
    assert doc["warning"].startswith("UNENCRYPTED test key")
    doc["public_key"] = "00" * 32
    p.write_text(json.dumps(doc))
    with pytest.raises(KeystoreError, match="is corrupt: its public key does not match the seed"):
        load_ed25519(p, None)
