"""keccak256 for the EVM: the fastest implementation installed.

py-evm, eth-utils and rlp hash through ``eth_hash.auto.keccak``, whose
automatic choice is pycryptodome; safe-pysha3's C keccak (a dependency) gives
the same digests about 5× faster (1.2 µs against 5.7 µs for 200 bytes), and an
ERC-20 transfer hashes about seven times. The digest is the same whichever
backend runs, so the choice never changes a result.
"""

from __future__ import annotations

from eth_hash.auto import keccak

EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def use_fastest_keccak() -> str:
    """Point eth-hash's shared keccak at pysha3 when it is installed and agrees with
    the known digest of b"" and of a longer input; returns the backend in use."""
    try:
        from eth_hash.backends import pysha3
    except ImportError:  # pragma: no cover - safe-pysha3 is a dependency
        return "auto"
    fast = pysha3.keccak256
    if fast(b"") != EMPTY or fast(b"\x01" * 200) != keccak(b"\x01" * 200):
        return "auto"  # pragma: no cover - a broken build: keep eth-hash's own
    keccak.hasher = fast  # type: ignore[assignment]
    keccak.preimage = pysha3.preimage  # type: ignore[assignment]
    return "pysha3"
