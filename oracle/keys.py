"""The oracle's two keys, under its home folder.

* the **account key** (secp256k1): signs the oracle's transactions (bond,
  attest, canary commit and reveal, funding canary posters). It lives in the
  chain's keystore format (``chain.keystore``: ``home/keys/<name>.json``,
  Ethereum v3 scrypt encryption, or the labelled ``test`` backend);
* the **attestation key** (ed25519, pynacl): signs what the chain checks in
  ``MsgAttest``; its public half is registered with the oracle bond. It is
  stored in ``home/keys/<name>.ed25519.json``, encrypted with the same
  passphrase: argon2id (``nacl.pwhash``) derives a key for an XSalsa20-Poly1305
  secret box, so a wrong passphrase or a tampered file fails loudly. The
  ``test`` backend keeps the seed in clear and says so.

Every file is written 0600 in a 0700 folder, through a temp file renamed into
place, so nothing is ever half-written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.pwhash
import nacl.secret
import nacl.utils
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey

from chain.keystore import KeystoreError, WrongPassphrase, write_private_json

FORMAT = "vcoin-ed25519/1"
# argon2id cost: "moderate" (256 MiB, ~0.5 s) for real keys; "interactive"
# (64 MiB) when the keystore is built light for tests.
COSTS = {
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "interactive": (
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ),
}


def ed25519_path(home: Path, name: str) -> Path:
    return home / "keys" / f"{name}.ed25519.json"


def save_ed25519(
    path: Path,
    key: SigningKey,
    passphrase: str | None,
    backend: str = "file",
    cost: str = "moderate",
    overwrite: bool = False,
) -> str:
    """Store ``key``; returns its public key as hex."""
    if path.exists() and not overwrite:
        raise KeystoreError(f"{path} already exists; delete it or pass --force")
    pub = bytes(key.verify_key).hex()
    data: dict[str, Any] = {"format": FORMAT, "public_key": pub, "backend": backend}
    seed = bytes(key)
    if backend == "test":
        data["warning"] = "UNENCRYPTED test key: for local devnets only"
        data["seed"] = seed.hex()
    elif backend == "file":
        if not passphrase:
            raise KeystoreError("a passphrase is needed to encrypt the attestation key")
        ops, mem = COSTS[cost]
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        box_key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit=ops, memlimit=mem
        )
        data["kdf"] = {"name": "argon2id", "salt": salt.hex(), "opslimit": ops, "memlimit": mem}
        data["ciphertext"] = bytes(nacl.secret.SecretBox(box_key).encrypt(seed)).hex()
    else:
        raise KeystoreError(f"unknown keyring backend {backend!r}; use file or test")
    write_private_json(path, data)
    return pub


def load_ed25519(path: Path, passphrase: str | None) -> SigningKey:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise KeystoreError(f"no attestation key at {path}; run `vcoin-oracle init`") from e
    except (OSError, ValueError) as e:
        raise KeystoreError(f"cannot read {path}: {e}") from e
    if data.get("format") != FORMAT:
        raise KeystoreError(f"{path} is not a {FORMAT} key file")
    if data.get("backend") == "test":
        key = SigningKey(bytes.fromhex(data["seed"]))
    else:
        if passphrase is None:
            raise WrongPassphrase("the attestation key is encrypted; a passphrase is needed")
        kdf = data["kdf"]
        box_key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode(),
            bytes.fromhex(kdf["salt"]),
            opslimit=int(kdf["opslimit"]),
            memlimit=int(kdf["memlimit"]),
        )
        try:
            seed = nacl.secret.SecretBox(box_key).decrypt(bytes.fromhex(data["ciphertext"]))
        except CryptoError as e:
            raise WrongPassphrase(f"wrong passphrase for {path} (or the file is damaged)") from e
        key = SigningKey(seed)
    if bytes(key.verify_key).hex() != data.get("public_key"):
        raise KeystoreError(f"{path} is corrupt: its public key does not match the seed")
    return key
