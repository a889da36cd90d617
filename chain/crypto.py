"""secp256k1 keys, Cosmos addresses and bech32 (prefix ``vcoin``)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import bech32
import coincurve
from coincurve.ecdsa import cdata_to_der, deserialize_compact

BECH32_PREFIX = "vcoin"
ADDRESS_LEN = 20


class AddressError(ValueError):
    pass


def pubkey_to_address(pubkey33: bytes) -> bytes:
    """Cosmos address of a compressed secp256k1 key: ripemd160(sha256(pk))."""
    return hashlib.new("ripemd160", hashlib.sha256(pubkey33).digest()).digest()


def module_address(name: str) -> bytes:
    """Address of a module account, as the Cosmos SDK derives it."""
    return hashlib.sha256(name.encode()).digest()[:ADDRESS_LEN]


@lru_cache(maxsize=1 << 16)
def to_bech32(addr: bytes, prefix: str = BECH32_PREFIX) -> str:
    data = bech32.convertbits(addr, 8, 5)
    assert data is not None
    return str(bech32.bech32_encode(prefix, data))


@lru_cache(maxsize=1 << 16)
def from_bech32(text: str, prefix: str = BECH32_PREFIX) -> bytes:
    """Decode a ``vcoin1…`` address; raise AddressError saying what is wrong."""
    if not isinstance(text, str) or not text:
        raise AddressError("empty address")
    hrp, data = bech32.bech32_decode(text)
    if hrp is None or data is None:
        raise AddressError(f"{text!r} is not a valid bech32 address (bad checksum or characters)")
    if hrp != prefix:
        raise AddressError(f"address {text!r} has prefix {hrp!r}; expected {prefix!r}")
    raw = bech32.convertbits(data, 5, 8, False)
    if raw is None or len(raw) != ADDRESS_LEN:
        raise AddressError(f"address {text!r} must encode {ADDRESS_LEN} bytes")
    return bytes(raw)


def verify_signature(pubkey33: bytes, signature64: bytes, message: bytes) -> bool:
    """Verify a Cosmos secp256k1 signature (64-byte r||s, low-S) over sha256(message)."""
    if len(signature64) != 64 or len(pubkey33) != 33:
        return False
    try:
        der = cdata_to_der(deserialize_compact(signature64))
        return bool(_pubkey(pubkey33).verify(der, message))
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=1 << 14)
def _pubkey(pubkey33: bytes) -> coincurve.PublicKey:
    return coincurve.PublicKey(pubkey33)


class PrivateKey:
    """A secp256k1 signing key as a wallet holds it."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._key = coincurve.PrivateKey(secret) if secret is not None else coincurve.PrivateKey()

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """A deterministic key for dev accounts and tests (never for real funds)."""
        return cls(hashlib.sha256(b"vcoin-dev-key" + seed).digest())

    @property
    def secret(self) -> bytes:
        return bytes(self._key.secret)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.public_key.format(compressed=True))

    @property
    def address(self) -> bytes:
        return pubkey_to_address(self.public_key)

    @property
    def bech32(self) -> str:
        return to_bech32(self.address)

    def sign(self, message: bytes) -> bytes:
        """64-byte compact signature over sha256(message), low-S as Cosmos requires."""
        der = self._key.sign(message)
        from coincurve.ecdsa import der_to_cdata, serialize_compact

        return bytes(serialize_compact(der_to_cdata(der)))
