"""Coins: (denom, amount) pairs with integer amounts, checked at the edge."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from chain.errors import ErrInvalidCoins

DENOM = "avcn"  # 10^-18 VCN
DISPLAY = "VCN"
DECIMALS = 18
MAX_AMOUNT = (1 << 256) - 1

# used with fullmatch: "$" would also match before a trailing newline ("5\n")
_DENOM_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9/:._-]{2,127}")
_AMOUNT_RE = re.compile(r"[0-9]{1,78}")
# digits bounded: int() of a long digit string costs quadratic time
_COIN_STR_RE = re.compile(r"([0-9]{1,78}(?:\.[0-9]{1,78})?)([a-zA-Z][a-zA-Z0-9/:._-]{0,127})")

Coins = tuple[tuple[str, int], ...]


def parse_amount(text: str, what: str = "amount") -> int:
    if not isinstance(text, str) or not _AMOUNT_RE.fullmatch(text):
        raise ErrInvalidCoins(f"{what} {text!r} is not a non-negative whole number of base units")
    n = int(text)
    if n > MAX_AMOUNT:
        raise ErrInvalidCoins(f"{what} {text} is over 2^256-1")
    return n


def parse_coins(items: Iterable[Any], allow_empty: bool = False, what: str = "amount") -> Coins:
    """Validate protobuf or dict coins: known shape, positive, sorted, no duplicates."""
    out: list[tuple[str, int]] = []
    for c in items:
        denom = c["denom"] if isinstance(c, dict) else c.denom
        amount = c["amount"] if isinstance(c, dict) else c.amount
        if not _DENOM_RE.fullmatch(denom or ""):
            raise ErrInvalidCoins(f"invalid denom {denom!r} in {what}")
        n = parse_amount(amount, f"{what} of {denom}")
        if n == 0:
            raise ErrInvalidCoins(f"{what} of {denom} is zero; send a positive amount")
        out.append((denom, n))
    if not out and not allow_empty:
        raise ErrInvalidCoins(f"{what} is empty")
    denoms = [d for d, _ in out]
    if denoms != sorted(set(denoms)):
        raise ErrInvalidCoins(f"{what} denoms must be sorted and unique, got {denoms}")
    return tuple(out)


def fmt(coins: Coins) -> str:
    return ",".join(f"{n}{d}" for d, n in coins)


def parse_coin_str(text: str) -> Coins:
    """Parse "100avcn,5VCN" as a user types it; VCN is converted to avcn."""
    items: list[dict[str, str]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = _COIN_STR_RE.fullmatch(part)
        if not m:
            raise ErrInvalidCoins(
                f"cannot read {part[:100]!r}; write e.g. 1.5VCN or 1000avcn "
                "(at most 78 digits on either side of the point)"
            )
        num, denom = m.groups()
        if denom.upper() == DISPLAY:
            whole, _, frac = num.partition(".")
            if len(frac) > DECIMALS:
                raise ErrInvalidCoins(f"{part}: VCN has at most {DECIMALS} decimals")
            num = str(int(whole) * 10**DECIMALS + int((frac or "0").ljust(DECIMALS, "0")))
            denom = DENOM
        elif "." in num:
            raise ErrInvalidCoins(f"{part}: base units are whole numbers")
        items.append({"denom": denom, "amount": num})
    return parse_coins(sorted(items, key=lambda c: c["denom"]))


def coins_json(coins: Coins) -> list[dict[str, str]]:
    return [{"denom": d, "amount": str(n)} for d, n in coins]
