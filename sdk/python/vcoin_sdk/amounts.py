"""Amounts: ``1.5VCN`` or ``1000avcn`` as people write them -> coins in avcn."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vcoin_sdk.errors import InvalidAmount

DENOM = "avcn"
DISPLAY = "VCN"
DECIMALS = 18
VCN = 10**DECIMALS
MAX_AMOUNT = (1 << 256) - 1
_COIN = re.compile(r"([0-9]{1,78}(?:\.[0-9]{1,78})?)([a-zA-Z][a-zA-Z0-9/:._-]{0,127})")


@dataclass(frozen=True, order=True)
class Coin:
    denom: str
    amount: int

    def to_json(self) -> dict[str, str]:
        return {"denom": self.denom, "amount": str(self.amount)}

    def __str__(self) -> str:
        return f"{self.amount}{self.denom}"


def parse_coin(text: str | int) -> Coin:
    """``1.5VCN`` (at most 18 decimals), ``1000avcn``, or an int (avcn) -> one coin."""
    if isinstance(text, bool):
        raise InvalidAmount("an amount is a string such as 1.5VCN or an int of avcn")
    if isinstance(text, int):
        if not 0 <= text <= MAX_AMOUNT:
            raise InvalidAmount(f"{text} is outside 0..2^256-1", "bad_amount")
        return Coin(DENOM, text)
    coins = parse_coins(text)
    if len(coins) != 1:
        raise InvalidAmount(f"{text!r}: give one amount", "bad_amount")
    return coins[0]


def parse_coins(text: str) -> list[Coin]:
    """``100avcn,5VCN``: comma-separated amounts, VCN converted to avcn, sorted by denom."""
    if not isinstance(text, str):
        raise InvalidAmount("an amount is a string such as 1.5VCN")
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = _COIN.fullmatch(part)
        if not m:
            raise InvalidAmount(
                f"cannot read {part[:100]!r}; write e.g. 1.5VCN or 1000avcn", "bad_amount"
            )
        num, denom = m.groups()
        if denom.upper() == DISPLAY:
            whole, _, frac = num.partition(".")
            if len(frac) > DECIMALS:
                raise InvalidAmount(
                    f"{part}: VCN has at most {DECIMALS} decimals (1 avcn = 10^-18 VCN)",
                    "too_many_decimals",
                )
            n = int(whole) * VCN + int((frac or "0").ljust(DECIMALS, "0"))
            denom = DENOM
        elif "." in num:
            raise InvalidAmount(f"{part}: {denom} amounts are whole numbers", "bad_amount")
        else:
            n = int(num)
        if n > MAX_AMOUNT:
            raise InvalidAmount(f"{part} is over 2^256-1 avcn", "bad_amount")
        if denom in out:
            raise InvalidAmount(f"{text!r} names {denom} twice", "bad_amount")
        out[denom] = n
    if not out:
        raise InvalidAmount("no amount given", "bad_amount")
    return [Coin(d, out[d]) for d in sorted(out)]


def format_vcn(avcn: int) -> str:
    """``1500000000000000000`` -> ``1.5VCN``."""
    whole, frac = divmod(avcn, VCN)
    f = str(frac).rjust(DECIMALS, "0").rstrip("0")
    return f"{whole}.{f}{DISPLAY}" if f else f"{whole}{DISPLAY}"
