"""secp256k1 keys, account addresses, bech32 (prefix ``vcoin``) and EIP-55 ``0x`` forms.

One account space: an account is 20 bytes, written ``vcoin1…`` (bech32) or
``0x…`` (EIP-55); ``parse_address`` takes either, ``to_bech32`` and
``to_eth_address`` write them.

Account keys come in two types, told apart by their length (a cheap branch on
the hot path):

* ``secp256k1`` (Cosmos, cosmpy's default): the 33-byte compressed key itself;
  address ripemd160(sha256(key)), signatures over sha256(message).
* ``eth_secp256k1`` (Ethermint's ``/ethermint.crypto.v1.ethsecp256k1.PubKey``):
  ``ETH_KEY_TAG`` + the 33-byte compressed key, 34 bytes; address
  keccak256(uncompressed key)[12:], the key's Ethereum address; signatures over
  keccak256(message).

Such a "typed key" is what auth stores for an account, what the ante handler
and the signature helper check with, and what ``key_address`` and
``verify_signature`` read; a bare 33-byte key is a secp256k1 key, as every key
stored before eth_secp256k1 existed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import coincurve
from coincurve._libsecp256k1 import lib as _secp
from coincurve.ecdsa import deserialize_compact

BECH32_PREFIX = "vcoin"
ADDRESS_LEN = 20
BECH32_MAX_LEN = 90  # BIP-173; a 32-byte module address is 64 characters

SECP256K1 = "secp256k1"
ETH_SECP256K1 = "eth_secp256k1"
KEY_ALGOS = (SECP256K1, ETH_SECP256K1)
ETH_KEY_TAG = 0xEE  # first byte of an eth_secp256k1 typed key (a compressed key starts 02/03)
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class AddressError(ValueError):
    pass


@lru_cache(maxsize=1 << 14)
def pubkey_to_address(pubkey33: bytes) -> bytes:
    """Cosmos address of a compressed secp256k1 key: ripemd160(sha256(pk))."""
    return hashlib.new("ripemd160", hashlib.sha256(pubkey33).digest()).digest()


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak-256 (not NIST SHA3-256)."""
    # imported here: pycryptodome costs ~40 ms to load and only eth paths need it
    from Crypto.Hash import keccak

    return bytes(keccak.new(digest_bits=256, data=data).digest())


@lru_cache(maxsize=1 << 14)
def eth_address_of(pubkey: bytes) -> bytes:
    """Ethereum address of a secp256k1 key (33-byte compressed or 65-byte
    uncompressed): keccak256(uncompressed key without its 0x04)[12:]."""
    if len(pubkey) == 33 and pubkey[0] in (2, 3):
        full = _pubkey(pubkey).format(compressed=False)
    elif len(pubkey) == 65 and pubkey[0] == 4:
        full = coincurve.PublicKey(pubkey).format(compressed=False)  # checks it is on the curve
    else:
        raise ValueError(
            "a secp256k1 public key is 33 bytes (compressed) or 65 (uncompressed); "
            f"got {len(pubkey)}"
        )
    return keccak256(full[1:])[12:]


def account_key(pubkey33: bytes, algo: str = SECP256K1) -> bytes:
    """The typed key of a 33-byte compressed key of type ``algo`` (see the module doc)."""
    if len(pubkey33) != 33 or pubkey33[0] not in (2, 3):
        raise ValueError("a public key must be a 33-byte compressed secp256k1 key")
    if algo == SECP256K1:
        return bytes(pubkey33)
    if algo == ETH_SECP256K1:
        return bytes([ETH_KEY_TAG]) + pubkey33
    raise ValueError(f"unknown key type {algo!r}; use one of {', '.join(KEY_ALGOS)}")


def key_algo(key: bytes) -> str:
    """The type of a typed key: secp256k1 or eth_secp256k1."""
    if len(key) == 33:
        return SECP256K1
    if len(key) == 34 and key[0] == ETH_KEY_TAG:
        return ETH_SECP256K1
    raise ValueError(f"not a typed account key ({len(key)} bytes)")


def key_pubkey(key: bytes) -> bytes:
    """The 33-byte compressed secp256k1 key inside a typed key."""
    return key if len(key) == 33 else key[1:]


@lru_cache(maxsize=1 << 14)
def key_address(key: bytes) -> bytes:
    """The account a typed key controls, by its type's rule (see the module doc)."""
    if len(key) == 33:
        return pubkey_to_address(key)
    if len(key) == 34 and key[0] == ETH_KEY_TAG:
        return eth_address_of(key[1:])
    raise ValueError(f"not a typed account key ({len(key)} bytes)")


def to_eth_address(addr: bytes) -> str:
    """A 20-byte address as EIP-55 mixed-case checksummed ``0x…`` hex."""
    if len(addr) != ADDRESS_LEN:
        raise AddressError(f"an address is {ADDRESS_LEN} bytes; got {len(addr)}")
    low = addr.hex()
    digest = keccak256(low.encode()).hex()[: len(low)]
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(low, digest, strict=True)
    )


def parse_address(text: str) -> bytes:
    """A 20-byte account from ``vcoin1…`` (bech32) or ``0x…`` (40 hex digits).

    A ``0x`` address in mixed case must carry a right EIP-55 checksum; all
    lower- or all upper-case hex carries none and is taken as it is. Raises
    AddressError saying what is wrong."""
    if not isinstance(text, str) or not text:
        raise AddressError("empty address")
    if text[:2] not in ("0x", "0X"):
        return from_bech32(text)
    digits = text[2:]
    if len(digits) > 2 * BECH32_MAX_LEN or not _HEX_DIGITS.issuperset(digits):
        raise AddressError(f"{text[:100]!r} is not a 0x address: after 0x come 40 hex digits")
    if len(digits) != 2 * ADDRESS_LEN:
        raise AddressError(
            f"0x address {text!r} has {len(digits)} hex digits; an address is "
            f"{ADDRESS_LEN} bytes ({2 * ADDRESS_LEN} hex digits)"
        )
    raw = bytes.fromhex(digits)
    if (
        digits != digits.lower()
        and digits != digits.upper()
        and to_eth_address(raw) != "0x" + digits
    ):
        raise AddressError(
            f"0x address {text!r} has a wrong EIP-55 checksum: its mixed upper and lower case "
            "letters do not match the address; check it for a typo"
        )
    return raw


@lru_cache(maxsize=256)
def module_address(name: str) -> bytes:
    """Address of a module account, as the Cosmos SDK derives it."""
    return hashlib.sha256(name.encode()).digest()[:ADDRESS_LEN]


# bech32 (BIP-173) with a table-driven checksum: the reference code spends
# most of a block's time in its bit-by-bit polymod, since every event names
# addresses and every message carries them. Results are identical to the
# ``bech32`` package's bech32_encode / bech32_decode + convertbits.
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(_CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_POLY_TABLE = tuple(
    _GEN[0] * (t & 1)
    ^ _GEN[1] * (t >> 1 & 1)
    ^ _GEN[2] * (t >> 2 & 1)
    ^ _GEN[3] * (t >> 3 & 1)
    ^ _GEN[4] * (t >> 4 & 1)
    for t in range(32)
)
_CACHE_MAX = 1 << 16
_enc_cache: dict[tuple[bytes, str], str] = {}
_dec_cache: dict[tuple[str, str], bytes] = {}


def _polymod(chk: int, values: Iterable[int]) -> int:
    t = _POLY_TABLE
    for v in values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ t[chk >> 25]
    return chk


# Two symbols per step: the checksum is linear, so the feedback of the top 10
# bits over two steps can be tabled like that of the top 5 over one.
_POLY_TABLE2 = tuple(_polymod(t << 20, (0, 0)) for t in range(1024))


def _polymod_str(chk: int, symbols: str) -> int:
    """``_polymod`` over data characters, two at a time."""
    t2 = _POLY_TABLE2
    rev = _CHARSET_REV
    n = len(symbols)
    for i in range(0, n - 1, 2):
        chk = ((chk & 0xFFFFF) << 10) ^ t2[chk >> 20] ^ (rev[symbols[i]] << 5) ^ rev[symbols[i + 1]]
    if n & 1:
        chk = _polymod(chk, (rev[symbols[-1]],))
    return chk


@lru_cache(maxsize=64)
def _hrp_state(hrp: str) -> int:
    """Checksum state after the expanded human-readable part."""
    return _polymod(1, [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp])


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        del cache[next(iter(cache))]  # oldest first; a plain bound, results never change
    cache[key] = value


def _to_5bit(data: bytes) -> list[int]:
    """convertbits(data, 8, 5, pad=True)."""
    nbits = 8 * len(data)
    groups = (nbits + 4) // 5
    v = int.from_bytes(data, "big") << (5 * groups - nbits)
    return [(v >> s) & 31 for s in range(5 * (groups - 1), -1, -5)]


_TO_BASE32 = str.maketrans(_CHARSET, "0123456789abcdefghijklmnopqrstuv")


def _from_5bit(symbols: str) -> bytes | None:
    """convertbits(data, 5, 8, pad=False) of data characters: None when the
    padding is not zero bits."""
    if not symbols:
        return b""
    nbits = 5 * len(symbols)
    extra = nbits & 7
    v = int(symbols.translate(_TO_BASE32), 32)
    if extra >= 5 or v & ((1 << extra) - 1):
        return None
    return (v >> extra).to_bytes(nbits >> 3, "big")


def to_bech32(addr: bytes, prefix: str = BECH32_PREFIX) -> str:
    key = (addr, prefix)
    text = _enc_cache.get(key)
    if text is None:
        data = _to_5bit(addr)
        pm = _polymod(_hrp_state(prefix), data + [0, 0, 0, 0, 0, 0]) ^ 1
        cs = "".join(_CHARSET[(pm >> 5 * (5 - i)) & 31] for i in range(6))
        text = prefix + "1" + "".join([_CHARSET[d] for d in data]) + cs
        _remember(_enc_cache, key, text)
    return text


def _bech32_decode(bech: str) -> tuple[str, str] | tuple[None, None]:
    """bech32.bech32_decode, same checks in the same order; the data part is
    returned as its characters (checksum dropped)."""
    # every character in 33..126: printable ASCII without the space
    if not (bech.isascii() and bech.isprintable()) or " " in bech:
        return None, None
    low = bech.lower()
    if low != bech and bech.upper() != bech:
        return None, None
    pos = low.rfind("1")
    if pos < 1 or pos > 83 or pos + 7 > len(low):
        return None, None
    symbols = low[pos + 1 :]
    hrp = low[:pos]
    try:
        if _polymod_str(_hrp_state(hrp), symbols) != 1:
            return None, None
    except KeyError:  # a character outside the bech32 set
        return None, None
    return hrp, symbols[:-6]


def from_bech32(text: str, prefix: str = BECH32_PREFIX) -> bytes:
    """Decode a ``vcoin1…`` address; raise AddressError saying what is wrong."""
    if not isinstance(text, str) or not text:
        raise AddressError("empty address")
    if len(text) > BECH32_MAX_LEN:
        # checked first: the checksum costs time in the length of the text
        raise AddressError(f"address is {len(text)} characters; bech32 allows {BECH32_MAX_LEN}")
    key = (text, prefix)
    hit = _dec_cache.get(key)
    if hit is not None:
        return hit
    hrp, data = _bech32_decode(text)
    if hrp is None or data is None:
        raise AddressError(f"{text!r} is not a valid bech32 address (bad checksum or characters)")
    if hrp != prefix:
        raise AddressError(f"address {text!r} has prefix {hrp!r}; expected {prefix!r}")
    raw = _from_5bit(data)
    if raw is None or len(raw) != ADDRESS_LEN:
        raise AddressError(f"address {text!r} must encode {ADDRESS_LEN} bytes")
    _remember(_dec_cache, key, raw)
    if text == text.lower():
        # the canonical form of ``raw``: a later event naming it needs no encoding
        _remember(_enc_cache, (raw, prefix), text)
    return raw


def verify_signature(pubkey: bytes, signature64: bytes, message: bytes) -> bool:
    """Verify a 64-byte r||s low-S signature by a typed key (see the module doc):
    over sha256(message) for a secp256k1 key (33 bytes), over keccak256(message)
    for an eth_secp256k1 key (``ETH_KEY_TAG`` + 33 bytes)."""
    if len(signature64) != 64:
        return False
    n = len(pubkey)
    if n == 33:  # the hot path: secp256k1
        digest = hashlib.sha256(message).digest()
    elif n == 34 and pubkey[0] == ETH_KEY_TAG:
        pubkey = pubkey[1:]
        digest = keccak256(message)
    else:
        return False
    try:
        # what PublicKey.verify does, without its round trip through DER
        sig = deserialize_compact(signature64)
        pk = _pubkey(pubkey)
        return bool(_secp.secp256k1_ecdsa_verify(pk.context.ctx, sig, digest, pk.public_key))
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=1 << 14)
def _pubkey(pubkey33: bytes) -> coincurve.PublicKey:
    return coincurve.PublicKey(pubkey33)


class PrivateKey:
    """A signing key as a wallet holds it: a secp256k1 secret and the key type
    (``algo``) that decides its account address and what it signs over."""

    def __init__(self, secret: bytes | None = None, algo: str = SECP256K1) -> None:
        if algo not in KEY_ALGOS:
            raise ValueError(f"unknown key type {algo!r}; use one of {', '.join(KEY_ALGOS)}")
        self._key = coincurve.PrivateKey(secret) if secret is not None else coincurve.PrivateKey()
        self.algo = algo

    @classmethod
    def from_seed(cls, seed: bytes, algo: str = SECP256K1) -> PrivateKey:
        """A deterministic key for dev accounts and tests (never for real funds)."""
        return cls(hashlib.sha256(b"vcoin-dev-key" + seed).digest(), algo)

    @property
    def secret(self) -> bytes:
        return bytes(self._key.secret)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.public_key.format(compressed=True))

    @property
    def account_key(self) -> bytes:
        """The typed key (what auth stores for the account)."""
        return account_key(self.public_key, self.algo)

    @property
    def address(self) -> bytes:
        """The account this key controls: by its type's rule."""
        return key_address(self.account_key)

    @property
    def bech32(self) -> str:
        return to_bech32(self.address)

    @property
    def eth_address(self) -> bytes:
        """The key's Ethereum (keccak) address, whatever its type: the account
        MetaMask controls with this secret. For a secp256k1 key it is not ``address``."""
        return eth_address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """64-byte compact signature, low-S as Cosmos requires, over sha256(message)
        (secp256k1) or keccak256(message) (eth_secp256k1)."""
        if self.algo == ETH_SECP256K1:
            der = self._key.sign(keccak256(message), hasher=None)
        else:
            der = self._key.sign(message)
        from coincurve.ecdsa import der_to_cdata, serialize_compact

        return bytes(serialize_compact(der_to_cdata(der)))
