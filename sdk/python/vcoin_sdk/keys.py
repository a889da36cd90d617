"""Keys and addresses: BIP-39 mnemonics, BIP-44 derivation, bech32 and EIP-55.

A VCoin account is a secp256k1 key at m/44'/118'/0'/0/0 (Cosmos' coin type): its
address is ripemd160(sha256(compressed public key)), written ``vcoin1…`` (bech32)
or ``0x…`` (EIP-55, the same 20 bytes). ``EthKey`` derives the Ethereum-style key
(m/44'/60'/0'/0/0, address keccak256(public key)[12:]), an ``eth_secp256k1`` key
that signs txs over keccak256 and EIP-191 messages.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import bech32 as _bech32
import coincurve
from coincurve.ecdsa import der_to_cdata, serialize_compact
from cosmpy.mnemonic import (
    ENGLISH_MNEMONIC_WORDS_LIST,
    derive_child_key_from_mnemonic,
    entropy_to_mnemonic,
)
from Crypto.Hash import keccak

from vcoin_sdk.errors import InputError, InvalidAddress, InvalidMnemonic

PREFIX = "vcoin"
COSMOS_PATH = "m/44'/118'/0'/0/0"
ETH_PATH = "m/44'/60'/0'/0/0"
_WORD_INDEX = {w: i for i, w in enumerate(ENGLISH_MNEMONIC_WORDS_LIST)}
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _keccak256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


# -- mnemonics ----------------------------------------------------------------------


def normalize_mnemonic(mnemonic: str) -> str:
    """The words, lowercase and single-spaced, after checking count, words and checksum."""
    if not isinstance(mnemonic, str):
        raise InvalidMnemonic("a mnemonic is a string of words", "bad_mnemonic_word")
    words = mnemonic.lower().split()
    if len(words) not in (12, 15, 18, 21, 24):
        raise InvalidMnemonic(
            f"a mnemonic has 12, 15, 18, 21 or 24 words; this one has {len(words)}",
            "bad_mnemonic_length",
        )
    unknown = [w for w in words if w not in _WORD_INDEX]
    if unknown:
        raise InvalidMnemonic(
            f"not BIP-39 English words: {', '.join(unknown[:5])}", "bad_mnemonic_word"
        )
    bits = "".join(format(_WORD_INDEX[w], "011b") for w in words)
    n_check = len(words) // 3
    entropy = int(bits[:-n_check], 2).to_bytes((len(bits) - n_check) // 8, "big")
    if format(hashlib.sha256(entropy).digest()[0], "08b")[:n_check] != bits[-n_check:]:
        raise InvalidMnemonic(
            "the mnemonic's checksum is wrong; check the words and their order",
            "bad_mnemonic_checksum",
        )
    return " ".join(words)


def generate_mnemonic(words: int = 24) -> str:
    """A new random BIP-39 mnemonic of 12 or 24 words."""
    if words not in (12, 24):
        raise ValueError("words is 12 or 24")
    return str(entropy_to_mnemonic(secrets.token_bytes(words * 4 // 3)))


def _derive(mnemonic: str, path: str, passphrase: str) -> bytes:
    words = normalize_mnemonic(mnemonic)
    return bytes(derive_child_key_from_mnemonic(words, passphrase or None, path))


# -- addresses ----------------------------------------------------------------------


def to_bech32(addr: bytes, prefix: str = PREFIX) -> str:
    five = _bech32.convertbits(addr, 8, 5)
    assert five is not None
    return str(_bech32.bech32_encode(prefix, five))


def to_eip55(addr: bytes) -> str:
    """``0x`` and the 20 bytes in hex, mixed case as EIP-55 checksums it."""
    if len(addr) != 20:
        raise InvalidAddress(f"an EIP-55 address is 20 bytes, got {len(addr)}", "bad_address")
    low = addr.hex()
    digest = _keccak256(low.encode()).hex()
    pairs = zip(low, digest[:40], strict=True)
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in pairs)


def _from_bech32(text: str, prefix: str) -> bytes:
    if len(text) > 90:
        raise InvalidAddress("a bech32 address has at most 90 characters", "bad_bech32")
    if text != text.lower() and text != text.upper():
        raise InvalidAddress(f"{text!r} mixes upper and lower case", "bad_bech32")
    low = text.lower()
    if "1" not in low:
        raise InvalidAddress(f"{text!r} is not a bech32 address", "bad_bech32")
    hrp, five = _bech32.bech32_decode(low)
    if hrp is None or five is None:
        raise InvalidAddress(
            f"{text!r}: bad bech32 checksum or characters; check for a typo",
            "bad_bech32_checksum",
        )
    if hrp != prefix:
        raise InvalidAddress(
            f"{text!r} has prefix {hrp!r}; VCoin addresses start with {prefix}1",
            "bad_bech32_prefix",
        )
    data = _bech32.convertbits(five, 5, 8, False)
    if data is None or len(data) not in (20, 32):
        raise InvalidAddress(f"{text!r} does not hold a 20- or 32-byte address", "bad_bech32")
    return bytes(data)


def _from_hex(text: str) -> bytes:
    body = text[2:]
    if len(body) != 40:
        raise InvalidAddress(
            f"{text!r}: a 0x address has 40 hex digits, this one {len(body)}", "bad_hex_address"
        )
    try:
        raw = bytes.fromhex(body)
    except ValueError as e:
        raise InvalidAddress(f"{text!r} is not hex", "bad_hex_address") from e
    # all-lower and all-upper carry no checksum (EIP-55); mixed case must match it
    if body != body.lower() and body != body.upper() and to_eip55(raw) != text:
        raise InvalidAddress(
            f"{text!r}: the EIP-55 checksum (letter case) is wrong; check for a typo "
            f"(expected {to_eip55(raw)})",
            "bad_eip55_checksum",
        )
    return raw


@dataclass(frozen=True)
class Address:
    """An account address: 20 bytes (32 for a module account), in either form."""

    raw: bytes

    @classmethod
    def parse(cls, text: str | Address, prefix: str = PREFIX) -> Address:
        """``vcoin1…`` or ``0x…``; raises ``InvalidAddress`` with a ``kind``."""
        if isinstance(text, Address):
            return text
        if not isinstance(text, str):
            raise InvalidAddress("an address is a string", "bad_address")
        t = text.strip()
        if t[:2] in ("0x", "0X"):
            return cls(_from_hex("0x" + t[2:]))
        return cls(_from_bech32(t, prefix))

    @property
    def bech32(self) -> str:
        return to_bech32(self.raw)

    @property
    def eip55(self) -> str:
        return to_eip55(self.raw)

    def __str__(self) -> str:
        return self.bech32


def parse_address(text: str | Address) -> str:
    """Either form -> the ``vcoin1…`` form messages carry; raises ``InvalidAddress``."""
    return Address.parse(text).bech32


def is_valid_address(text: str) -> bool:
    try:
        Address.parse(text)
    except InvalidAddress:
        return False
    return True


# -- keys ---------------------------------------------------------------------------


class Key:
    """A secp256k1 signing key as VCoin accounts use it (``/cosmos.crypto.secp256k1``)."""

    algo = "secp256k1"
    pubkey_type_url = "/cosmos.crypto.secp256k1.PubKey"

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < _SECP256K1_N:
            raise InputError("a secp256k1 private key is 32 bytes in 1..n-1", "bad_private_key")
        self._key = coincurve.PrivateKey(secret)

    @classmethod
    def from_mnemonic(cls, mnemonic: str, passphrase: str = "", path: str = COSMOS_PATH) -> Key:
        """The key at ``path`` (default m/44'/118'/0'/0/0) of a BIP-39 mnemonic."""
        return cls(_derive(mnemonic, path, passphrase))

    @classmethod
    def from_hex(cls, secret_hex: str) -> Key:
        t = secret_hex.strip().removeprefix("0x").removeprefix("0X")
        try:
            raw = bytes.fromhex(t)
        except ValueError as e:
            raise InputError("a private key is 64 hex digits", "bad_private_key") from e
        return cls(raw)

    @classmethod
    def generate(cls, words: int = 24) -> tuple[Key, str]:
        """A new key and the mnemonic that restores it."""
        m = generate_mnemonic(words)
        return cls.from_mnemonic(m), m

    @property
    def private_key(self) -> bytes:
        return bytes(self._key.secret)

    @property
    def public_key(self) -> bytes:
        """33 bytes, compressed."""
        return bytes(self._key.public_key.format(compressed=True))

    @property
    def address_bytes(self) -> bytes:
        return hashlib.new("ripemd160", hashlib.sha256(self.public_key).digest()).digest()

    @property
    def address(self) -> str:
        """``vcoin1…``"""
        return to_bech32(self.address_bytes)

    @property
    def eip55_address(self) -> str:
        """``0x…``, the same 20 bytes."""
        return to_eip55(self.address_bytes)

    def sign(self, message: bytes) -> bytes:
        """64 bytes r‖s over sha256(message): RFC 6979 nonce, low-S (libsecp256k1)."""
        return bytes(serialize_compact(der_to_cdata(self._key.sign(message))))

    def __repr__(self) -> str:
        return f"Key({self.address})"


class EthKey(Key):
    """An ``eth_secp256k1`` key (Ethermint's ``/ethermint.crypto.v1.ethsecp256k1.PubKey``):
    the key of a mnemonic at m/44'/60'/0'/0/0, its account the keccak (Ethereum) address,
    so one key is one account in MetaMask and on chain. It signs Cosmos txs over
    keccak256 of the SignDoc (``sign``) and EIP-191 messages (``personal_sign``, the
    gateway's EIP-4361 sign-in). Pass it wherever the client takes a ``Key``."""

    algo = "eth_secp256k1"
    pubkey_type_url = "/ethermint.crypto.v1.ethsecp256k1.PubKey"

    @classmethod
    def from_mnemonic(cls, mnemonic: str, passphrase: str = "", path: str = ETH_PATH) -> EthKey:
        """The key at ``path`` (default m/44'/60'/0'/0/0) of a BIP-39 mnemonic."""
        return cls(_derive(mnemonic, path, passphrase))

    @property
    def public_key_uncompressed(self) -> bytes:
        """64 bytes x‖y (without the 04 prefix)."""
        return bytes(self._key.public_key.format(compressed=False))[1:]

    @property
    def address_bytes(self) -> bytes:
        return _keccak256(self.public_key_uncompressed)[12:]

    def sign(self, message: bytes) -> bytes:
        """64 bytes r‖s over keccak256(message): RFC 6979 nonce, low-S (Ethermint's rule)."""
        der = self._key.sign(_keccak256(message), hasher=None)
        return bytes(serialize_compact(der_to_cdata(der)))

    def personal_sign(self, message: str | bytes) -> bytes:
        """EIP-191 ``personal_sign``: 65 bytes r‖s‖v (v = 27 + recovery id) over
        keccak256("\\x19Ethereum Signed Message:\\n" + length + message), as MetaMask signs."""
        data = message.encode() if isinstance(message, str) else bytes(message)
        digest = _keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
        rsv = bytes(self._key.sign_recoverable(digest, hasher=None))
        return rsv[:64] + bytes([27 + rsv[64]])

    def __repr__(self) -> str:
        return f"EthKey({self.eip55_address})"
