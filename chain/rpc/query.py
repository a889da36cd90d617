"""CometBFT's event query language, as ``subscribe`` and ``tx_search`` take it.

    query      = condition { "AND" condition }
    condition  = tag ( "=" operand | ("<" | "<=" | ">" | ">=") ordered
                     | "CONTAINS" string | "EXISTS" )
    operand    = string | number | date | time
    ordered    = number | date | time

    tag     letters, digits, ``_``, ``.``, ``-`` (``transfer.recipient``)
    string  'single quoted' (no escapes, as in CometBFT)
    number  123 or 1.5 (an attribute value such as ``100avcn`` compares as 100)
    date    DATE 2026-01-31
    time    TIME 2026-01-31T12:00:00Z

A condition holds when any value of its tag satisfies it; a query holds when
every condition does. Matching follows CometBFT v0.38 (libs/pubsub/query).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

OPS = ("=", "<", "<=", ">", ">=", "CONTAINS", "EXISTS")
# Far beyond any height or amount, and short enough that turning one into an
# int stays cheap (that is quadratic: 900k digits took 38 s holding the GIL).
MAX_NUMBER_CHARS = 80
# Every condition is checked on every candidate tx: the work is their product.
MAX_QUERY_CHARS = 8192
MAX_CONDITIONS = 32
_ORDER_OPS = ("<", "<=", ">", ">=")


class QueryError(ValueError):
    """A query that does not parse; the message says where and what was expected."""


@dataclass(frozen=True)
class Operand:
    kind: str  # "string" | "number" | "date" | "time"
    text: str

    def __str__(self) -> str:
        if self.kind == "string":
            return f"'{self.text}'"
        if self.kind == "date":
            return f"DATE {self.text}"
        if self.kind == "time":
            return f"TIME {self.text}"
        return self.text


@dataclass(frozen=True)
class Condition:
    tag: str
    op: str
    arg: Operand | None
    match: Callable[[str], bool]

    def __str__(self) -> str:
        return f"{self.tag} {self.op}" + ("" if self.arg is None else f" {self.arg}")

    @property
    def equality(self) -> str | None:
        """The string this condition's tag must equal, when it says so exactly."""
        if self.op == "=" and self.arg is not None and self.arg.kind == "string":
            return self.arg.text
        return None


@dataclass(frozen=True)
class Query:
    text: str
    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return " AND ".join(str(c) for c in self.conditions)

    def matches(self, attrs: Mapping[str, Sequence[str]]) -> bool:
        """Does the flat event map (``{"transfer.recipient": [...], ...}``) satisfy the query?"""
        if not attrs:
            return False
        return all(_holds(c, attrs) for c in self.conditions)


def _holds(c: Condition, attrs: Mapping[str, Sequence[str]]) -> bool:
    values = attrs.get(c.tag)
    if values:
        return any(c.match(v) for v in values)
    # A tag naming an event type alone ("transfer EXISTS") matches the empty string.
    prefix = c.tag + "."
    if any(k.startswith(prefix) and "." not in k[len(prefix) :] for k in attrs):
        return c.match("")
    return False


# -- scanning -----------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'[^']*')
  | (?P<time>TIME\s+\S+)
  | (?P<date>DATE\s+\S+)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?![\w.-]))
  | (?P<op><=|>=|<|>|=)
  | (?P<word>[\w][\w.\-]*)
  | (?P<unterminated>'[^']*$)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # string, time, date, number, op, word, end
    text: str
    pos: int


def _scan(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QueryError(
                f"unexpected character {text[pos]!r} at offset {pos}; tags use letters, digits, "
                "'.', '_' and '-', and strings go in single quotes"
            )
        kind = m.lastgroup or ""
        if kind == "unterminated":
            raise QueryError(f"string starting at offset {pos} has no closing quote (')")
        if kind != "ws":
            tok = m.group()
            if kind == "word" and tok in ("AND", "CONTAINS", "EXISTS"):
                kind = "op" if tok != "AND" else "and"
            out.append(_Tok(kind, tok, pos))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


# -- parsing ------------------------------------------------------------------


def parse(text: str) -> Query:
    """Parse a query; raise QueryError with the offset and what was expected."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("empty query; write e.g. tm.event='Tx' AND transfer.recipient='vcoin1…'")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    toks = _scan(text)
    i = 0
    conds: list[Condition] = []
    while True:
        tag = toks[i]
        if tag.kind != "word":
            raise QueryError(_want(tag, "a tag such as tm.event or transfer.recipient"))
        op = toks[i + 1]
        if op.kind != "op":
            raise QueryError(_want(op, f"an operator ({', '.join(OPS)}) after {tag.text!r}"))
        i += 2
        arg: Operand | None = None
        if op.text != "EXISTS":
            a = toks[i]
            arg = _operand(a, op.text, tag.text)
            i += 1
        conds.append(_compile(tag.text, op.text, arg))
        if len(conds) > MAX_CONDITIONS:
            raise QueryError(f"the query has more than {MAX_CONDITIONS} conditions")
        nxt = toks[i]
        if nxt.kind == "end":
            break
        if nxt.kind != "and":
            raise QueryError(_want(nxt, "AND or the end of the query (OR is not supported)"))
        i += 1
    return Query(text, tuple(conds))


def _want(tok: _Tok, what: str) -> str:
    found = "the end of the query" if tok.kind == "end" else repr(tok.text)
    return f"at offset {tok.pos}: expected {what}, found {found}"


def _operand(tok: _Tok, op: str, tag: str) -> Operand:
    if tok.kind == "string":
        if op in _ORDER_OPS:
            raise QueryError(
                f"at offset {tok.pos}: {tag} {op} needs a number, DATE or TIME, not a string"
            )
        return Operand("string", tok.text[1:-1])
    if op == "CONTAINS":
        raise QueryError(_want(tok, f"a 'quoted string' after {tag} CONTAINS"))
    if tok.kind == "number":
        if len(tok.text) > MAX_NUMBER_CHARS:
            raise QueryError(
                f"at offset {tok.pos}: a number of more than {MAX_NUMBER_CHARS} characters"
            )
        return Operand("number", tok.text)
    if tok.kind == "date":
        value = tok.text.split(None, 1)[1]
        _parse_date(value, tok.pos)
        return Operand("date", value)
    if tok.kind == "time":
        value = tok.text.split(None, 1)[1]
        _parse_time(value, tok.pos)
        return Operand("time", value)
    raise QueryError(_want(tok, f"a 'quoted string', number, DATE or TIME after {tag} {op}"))


def _parse_date(text: str, pos: int = -1) -> datetime:
    try:
        d = date.fromisoformat(text)
    except ValueError as e:
        raise QueryError(f"at offset {pos}: DATE {text!r} is not YYYY-MM-DD") from e
    if not 1900 <= d.year <= 2999:
        raise QueryError(f"at offset {pos}: DATE year {d.year} is out of range")
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


# ASCII digits only: \d also takes other scripts' digits, which fromisoformat refuses
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2}|Z)"
)


def _parse_time(text: str, pos: int = -1) -> datetime:
    not_rfc3339 = f"at offset {pos}: TIME {text!r} is not RFC 3339 (e.g. 2026-01-31T12:00:00Z)"
    if not _RFC3339.fullmatch(text):
        raise QueryError(not_rfc3339)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:  # the right shape, but no such time (month 13, hour 25)
        raise QueryError(not_rfc3339) from e
    if not 1900 <= t.year <= 2999:
        raise QueryError(f"at offset {pos}: TIME year {t.year} is out of range")
    return t


# -- matching -----------------------------------------------------------------

_LEADING_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?")


def _number(s: str) -> Decimal | None:
    """An attribute value as a number: ``"5"``, ``"2.5"``, or the leading number of ``"8avcn"``."""
    m = _LEADING_NUMBER.match(s)
    if m is None:
        return None
    try:
        return Decimal(m.group())
    except InvalidOperation:
        return None


def _as_time(s: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _as_date(s: str) -> datetime | None:
    try:
        d = date.fromisoformat(s[:10])
    except ValueError:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


_CMP: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _compile(tag: str, op: str, arg: Operand | None) -> Condition:
    if op == "EXISTS" or arg is None:
        return Condition(tag, op, None, lambda s: True)
    if op == "CONTAINS":
        needle = arg.text
        return Condition(tag, op, arg, lambda s: needle in s)
    if arg.kind == "string":
        want = arg.text
        return Condition(tag, op, arg, lambda s: s == want)
    test = _CMP[op]
    if arg.kind == "number":
        n = Decimal(arg.text)

        def num(s: str) -> bool:
            v = _number(s)
            return v is not None and test((v > n) - (v < n))

        return Condition(tag, op, arg, num)
    ref = _parse_date(arg.text) if arg.kind == "date" else _parse_time(arg.text)
    conv = _as_date if arg.kind == "date" else _as_time

    def when(s: str) -> bool:
        v = conv(s)
        return v is not None and test((v > ref) - (v < ref))

    return Condition(tag, op, arg, when)
