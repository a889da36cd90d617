"""The keystore: one file per named key in ``$VCOIN_HOME/keys/``.

A key is stored in one of two ways:

* ``file`` (the default): the secret is encrypted with a passphrase in
  Ethereum's keystore v3 format (scrypt + AES-128-CTR + keccak MAC, via
  eth-keyfile), so the file alone is useless to a thief;
* ``test``: the secret in plain hex, for throwaway devnet keys only. Such
  files say ``"backend": "test"`` and every listing labels them UNENCRYPTED.

Both kinds carry the bech32 address and public key in clear, so ``list`` and
``show`` never need the passphrase. Files are written 0600 in a 0700 folder,
atomically (a temp file renamed into place), so a failed write or a wrong
passphrase leaves nothing half-written.

Each key has a type (``algo``, stored in its file; a file without one is
``secp256k1``):

* ``secp256k1`` (the default): a Cosmos key, address ripemd160(sha256(key)).
  Mnemonics use the Cosmos HD path m/44'/118'/0'/0/0, the path Keplr and
  ``gaiad`` use, so a mnemonic made here restores the same account in any Cosmos
  wallet (with the ``vcoin`` prefix).
* ``eth_secp256k1``: an Ethermint-style key whose account is its Ethereum
  (keccak) address, so the same key is the same account in MetaMask. Mnemonics
  use Ethereum's path m/44'/60'/0'/0/0, MetaMask's, as ``evmosd keys add --algo
  eth_secp256k1`` does.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from cosmpy.mnemonic import (
    COSMOS_HD_PATH,
    ENGLISH_MNEMONIC_WORDS_LIST,
    derive_child_key_from_mnemonic,
    generate_mnemonic,
)

from chain.crypto import (
    KEY_ALGOS,
    SECP256K1,
    PrivateKey,
    eth_address_of,
    from_bech32,
    to_eth_address,
)

Backend = Literal["file", "test"]
BACKENDS: tuple[Backend, ...] = ("file", "test")
PASSPHRASE_ENV = "VCOIN_KEYRING_PASSPHRASE"
BACKEND_ENV = "VCOIN_KEYRING_BACKEND"
MIN_PASSPHRASE = 8
# scrypt N as geth and eth-keyfile use by default (~0.5 s, 256 MiB); LIGHT_SCRYPT_N
# is geth's --lightkdf, for test keys in CI where that cost adds up.
DEFAULT_SCRYPT_N = 1 << 18
LIGHT_SCRYPT_N = 1 << 12
# used with fullmatch: "$" would also match before a trailing newline
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ETH_HD_PATH = "m/44'/60'/0'/0/0"  # MetaMask's, for eth_secp256k1 keys


class KeystoreError(Exception):
    """A keystore operation could not be done; the message says what to do."""


class KeyNotFound(KeystoreError):
    pass


class KeyExists(KeystoreError):
    pass


class WrongPassphrase(KeystoreError):
    pass


@dataclass(frozen=True)
class KeyInfo:
    """What anyone may see about a key without its passphrase."""

    name: str
    address: str  # bech32, vcoin1…: the account the key controls, by its type's rule
    pubkey: str  # compressed secp256k1, hex
    backend: Backend
    algo: str = SECP256K1  # secp256k1 or eth_secp256k1

    @property
    def encrypted(self) -> bool:
        return self.backend == "file"

    @property
    def hex_address(self) -> str:
        """The same account as ``address``, as EIP-55 ``0x…``."""
        return to_eth_address(from_bech32(self.address))

    @property
    def eth_address(self) -> str:
        """The key's Ethereum (keccak) address, EIP-55: the account that MetaMask or
        an Ethereum tx controls with this key. The same as ``hex_address`` for an
        eth_secp256k1 key; another account for a secp256k1 key."""
        return to_eth_address(eth_address_of(bytes.fromhex(self.pubkey)))

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "encrypted": self.encrypted,
            "hex_address": self.hex_address,
            "eth_address": self.eth_address,
        }


def default_home() -> Path:
    return Path(os.environ.get("VCOIN_HOME") or Path.home() / ".vcoin")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise KeystoreError(
            f"invalid key name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def parse_secret_hex(text: str) -> bytes:
    """A 32-byte secp256k1 secret from hex (``0x`` optional), checked to be a valid key."""
    t = text.strip().removeprefix("0x").removeprefix("0X")
    try:
        raw = bytes.fromhex(t)
    except ValueError as e:
        raise KeystoreError("the secret is not hex; give 64 hex digits") from e
    if len(raw) != 32:
        raise KeystoreError(
            f"the secret is {len(raw)} bytes; a secp256k1 key is 32 (64 hex digits)"
        )
    if not 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
        raise KeystoreError("the secret is outside the secp256k1 range; it is not a valid key")
    return raw


def normalise_mnemonic(mnemonic: str) -> str:
    """Check word count, words and the BIP-39 checksum; return the words single-spaced."""
    words = mnemonic.lower().split()
    if len(words) not in (12, 15, 18, 21, 24):
        raise KeystoreError(f"a mnemonic has 12, 15, 18, 21 or 24 words; this one has {len(words)}")
    index = {w: i for i, w in enumerate(ENGLISH_MNEMONIC_WORDS_LIST)}
    unknown = [w for w in words if w not in index]
    if unknown:
        raise KeystoreError(f"not BIP-39 English words: {', '.join(unknown[:5])}")
    bits = "".join(format(index[w], "011b") for w in words)
    n_check = len(words) // 3
    entropy = int(bits[:-n_check], 2).to_bytes((len(bits) - n_check) // 8, "big")
    digest = hashlib.sha256(entropy).digest()
    if format(digest[0], "08b")[:n_check] != bits[-n_check:]:
        raise KeystoreError("the mnemonic's checksum is wrong; check the words and their order")
    return " ".join(words)


def check_algo(algo: str) -> str:
    if algo not in KEY_ALGOS:
        raise KeystoreError(f"unknown key type {algo!r}; use one of {', '.join(KEY_ALGOS)}")
    return algo


def hd_path(algo: str) -> str:
    """The BIP-44 path a mnemonic's key of type ``algo`` is derived on."""
    return COSMOS_HD_PATH if check_algo(algo) == SECP256K1 else ETH_HD_PATH


def key_from_mnemonic(
    mnemonic: str, bip39_passphrase: str = "", algo: str = SECP256K1
) -> PrivateKey:
    words = normalise_mnemonic(mnemonic)
    secret = derive_child_key_from_mnemonic(words, bip39_passphrase or None, hd_path(algo))
    return PrivateKey(bytes(secret), algo)


def read_passphrase(
    passphrase_file: str | Path | None = None,
    *,
    prompt: str = "Passphrase: ",
    confirm: bool = False,
) -> str:
    """The passphrase from ``passphrase_file``, else $VCOIN_KEYRING_PASSPHRASE,
    else a terminal prompt (asked twice when ``confirm``)."""
    if passphrase_file is not None:
        try:
            text = Path(passphrase_file).read_text()
        except OSError as e:
            raise KeystoreError(f"cannot read the passphrase file: {e}") from e
        return text.rstrip("\r\n")
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise KeystoreError(
            f"a passphrase is needed: give --passphrase-file, set {PASSPHRASE_ENV}, "
            "or run in a terminal to be prompted"
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat the passphrase: ") != first:
        raise KeystoreError("the two passphrases differ; nothing was written")
    return first


class Keystore:
    """Named keys in ``home/keys``. Secrets leave it only through ``load`` and ``export``."""

    def __init__(self, home: str | Path | None = None, scrypt_n: int = DEFAULT_SCRYPT_N) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.dir = self.home / "keys"
        self.scrypt_n = scrypt_n

    # -- reading -----------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def _read(self, name: str) -> dict[str, Any]:
        p = self.path(name)
        try:
            data: dict[str, Any] = json.loads(p.read_text())
        except FileNotFoundError as e:
            raise KeyNotFound(f"no key named {name!r} in {self.dir}; see `vcoind keys list`") from e
        except (OSError, ValueError) as e:
            raise KeystoreError(f"cannot read key file {p}: {e}") from e
        return data

    @staticmethod
    def _info(data: dict[str, Any]) -> KeyInfo:
        backend = data.get("backend")
        if backend not in BACKENDS:
            raise KeystoreError(
                f"key file for {data.get('name')!r} has unknown backend {backend!r}"
            )
        algo = str(data.get("algo", SECP256K1))  # files from before key types: secp256k1
        if algo not in KEY_ALGOS:
            raise KeystoreError(f"key file for {data.get('name')!r} has unknown type {algo!r}")
        return KeyInfo(str(data["name"]), str(data["address"]), str(data["pubkey"]), backend, algo)

    def show(self, name: str) -> KeyInfo:
        return self._info(self._read(name))

    def list(self) -> list[KeyInfo]:
        if not self.dir.is_dir():
            return []
        out = []
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(self._info(json.loads(p.read_text())))
            except (OSError, ValueError, KeyError, KeystoreError):
                continue  # a stray file is not a key; list what is readable
        return out

    def needs_passphrase(self, name: str) -> bool:
        return self.show(name).encrypted

    def load(self, name: str, passphrase: str | None = None) -> PrivateKey:
        """The signing key; a ``file`` key needs its passphrase."""
        data = self._read(name)
        info = self._info(data)
        if info.backend == "test":
            key = PrivateKey(parse_secret_hex(str(data["secret"])), info.algo)
        else:
            if passphrase is None:
                raise WrongPassphrase(f"key {name!r} is encrypted; a passphrase is needed")
            # eth_keyfile pulls in py_ecc (~1 s to import): only load it to decrypt.
            from eth_keyfile.keyfile import decode_keyfile_json

            try:
                secret = decode_keyfile_json(data["keyfile"], passphrase.encode())
            except ValueError as e:
                raise WrongPassphrase(f"wrong passphrase for key {name!r}") from e
            key = PrivateKey(bytes(secret), info.algo)
        if key.bech32 != info.address:
            raise KeystoreError(
                f"key file {self.path(name)} is corrupt: its address does not match"
            )
        return key

    def export(self, name: str, passphrase: str | None = None) -> str:
        """The secret as hex, after the passphrase (for ``file`` keys)."""
        return self.load(name, passphrase).secret.hex()

    # -- writing -----------------------------------------------------------
    def add(
        self,
        name: str,
        passphrase: str | None,
        backend: Backend = "file",
        *,
        overwrite: bool = False,
        algo: str = SECP256K1,
    ) -> tuple[KeyInfo, str]:
        """Make a fresh key of type ``algo`` from a new 24-word mnemonic; returns the
        mnemonic, which is the only backup: show it once and never store it."""
        check_algo(algo)
        mnemonic = generate_mnemonic(256)
        key = key_from_mnemonic(mnemonic, algo=algo)
        info = self.save(name, key, passphrase, backend, overwrite=overwrite)
        return info, mnemonic

    def import_secret(
        self,
        name: str,
        secret_hex: str,
        passphrase: str | None,
        backend: Backend = "file",
        *,
        overwrite: bool = False,
        algo: str = SECP256K1,
    ) -> KeyInfo:
        key = PrivateKey(parse_secret_hex(secret_hex), check_algo(algo))
        return self.save(name, key, passphrase, backend, overwrite=overwrite)

    def import_mnemonic(
        self,
        name: str,
        mnemonic: str,
        passphrase: str | None,
        backend: Backend = "file",
        *,
        bip39_passphrase: str = "",
        overwrite: bool = False,
        algo: str = SECP256K1,
    ) -> KeyInfo:
        key = key_from_mnemonic(mnemonic, bip39_passphrase, algo)
        return self.save(name, key, passphrase, backend, overwrite=overwrite)

    def save(
        self,
        name: str,
        key: PrivateKey,
        passphrase: str | None,
        backend: Backend = "file",
        *,
        overwrite: bool = False,
    ) -> KeyInfo:
        path = self.path(name)
        if backend not in BACKENDS:
            raise KeystoreError(f"unknown keyring backend {backend!r}; use file or test")
        if path.exists() and not overwrite:
            raise KeyExists(f"a key named {name!r} already exists; pick another name or delete it")
        info = KeyInfo(name, key.bech32, key.public_key.hex(), backend, key.algo)
        data: dict[str, Any] = {k: v for k, v in asdict(info).items()}
        if backend == "test":
            data["warning"] = "UNENCRYPTED test key: for local devnets only, never real funds"
            data["secret"] = key.secret.hex()
        else:
            if passphrase is None or len(passphrase) < MIN_PASSPHRASE:
                raise KeystoreError(
                    f"the passphrase must be at least {MIN_PASSPHRASE} characters; nothing written"
                )
            from eth_keyfile.keyfile import create_keyfile_json

            data["keyfile"] = create_keyfile_json(
                key.secret, passphrase.encode(), kdf="scrypt", iterations=self.scrypt_n
            )
        write_private_json(path, data)
        return info

    def delete(self, name: str) -> KeyInfo:
        info = self.show(name)
        self.path(name).unlink()
        return info


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, 0600 in a 0700 folder, through a temp file renamed
    into place: a failed write leaves the old file (or none), never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
