"""Module params: how every module reads them from JSON and keeps them in its store.

A module's ``Params`` is a frozen dataclass with its own defaults and
``validate()``; what is the same for all of them lives here:

- ``params_from_json``: the JSON a user writes (genesis, MsgUpdateParams) to a
  checked ``Params``: unknown fields refused, missing fields keep their
  defaults, then ``validate()``.
- ``ParamsStore``: the one stored encoding (sorted JSON of the dataclass, ints
  as ints, so app hashes do not depend on how a module prints its params), a
  cache of decoded objects by their stored bytes, and the JSON view auth's
  MsgUpdateParams reads and writes (``ParamsOwner``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from chain.bounded import InputError, parse_uint
from chain.context import Ctx
from chain.errors import ErrorCode


class ModuleParams(Protocol):
    """What a module's frozen Params dataclass offers."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def validate(self) -> None: ...
    def to_json(self) -> dict[str, Any]: ...
    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Self: ...


P = TypeVar("P", bound=ModuleParams)
MAX_PARAM = (1 << 256) - 1


def params_from_json(
    cls: type[P], d: dict[str, Any], err: ErrorCode, module: str, *, int_strings: bool = False
) -> P:
    """``d`` over the defaults of ``cls``, validated. With ``int_strings`` a string
    value is read as an integer: modules whose JSON prints amounts as strings
    (they pass 2^53, where JSON readers round) take them back the same way."""
    extra = set(d) - set(cls.__dataclass_fields__)
    if extra:
        raise err(f"unknown {module} params: {sorted(extra)}")
    vals: dict[str, Any] = asdict(cls())
    if not int_strings:
        vals.update(d)
    else:
        for k, v in d.items():
            try:
                # not int(): it also reads " 7", "1_000" and non-ASCII digits
                vals[k] = parse_uint(v, k, MAX_PARAM) if isinstance(v, str) else v
            except InputError as e:
                raise err(f"{k} must be an integer, got {v!r:.100}: {e}") from e
    p = cls(**vals)
    p.validate()
    return p


class ParamsStore(Generic[P]):
    """A module's params under one key of its store.

    ``get``/``set`` give the typed ``Params``; ``get_params``/``set_params`` are
    the JSON view (auth's ``ParamsOwner``), where the JSON goes through the
    module's own ``from_json`` and ``to_json``.
    """

    # Params are read by nearly every message and rarely change; decoding is a
    # pure function of the stored bytes, so sharing the frozen objects is safe.
    _CACHE_LIMIT = 64

    def __init__(self, module: str, key: bytes, cls: type[P]) -> None:
        self.module = module
        self.key = key
        self.cls = cls
        self._cache: dict[bytes, P] = {}

    def get(self, ctx: Ctx) -> P:
        raw = ctx.kv(self.module).get(self.key)
        if raw is None:
            return self.cls()
        p = self._cache.get(raw)
        if p is None:
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            p = self._cache[raw] = self.cls(**json.loads(raw))
        return p

    def set(self, ctx: Ctx, p: P) -> None:
        p.validate()
        raw = json.dumps(asdict(p), sort_keys=True).encode()
        ctx.kv(self.module).set(self.key, raw)

    def get_params(self, ctx: Ctx) -> dict[str, Any]:
        return self.get(ctx).to_json()

    def set_params(self, ctx: Ctx, params: dict[str, Any]) -> None:
        self.set(ctx, self.cls.from_json(params))
