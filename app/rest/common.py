"""What every module route uses: the app query, address and number parameters,
a read of the last commit under the node's lock, and the pagination parameters as
a FastAPI dependency (declared, so that /openapi.json lists them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Query

from app.rest.paging import PageRequest, page_request_of
from chain.context import Ctx
from chain.crypto import AddressError, parse_address, to_bech32
from chain.rest.errors import bad_request
from chain.rpc import jsonbody

if TYPE_CHECKING:
    from app.node import Node
    from chain.rest.server import RestService

T = TypeVar("T")


def addr(name: str, text: str) -> str:
    """An address parameter, ``vcoin1…`` or ``0x…`` (EIP-55 when mixed case), as bech32;
    anything else is a 400 naming the parameter."""
    try:
        return to_bech32(parse_address(text))
    except AddressError as e:
        raise bad_request(f"invalid {name} {jsonbody.describe(text)}: {e}") from e


class Reader:
    """The app's named queries (``/custom/<module>/<name>``, as ``abci_query`` reaches
    them) and, for the few answers that combine several, a read of the last commit
    under the node's lock, so that one answer comes from one height."""

    def __init__(self, node: Node, svc: RestService) -> None:
        self.node = node
        self.svc = svc

    def q(self, module: str, name: str, **req: Any) -> Any:
        """The app query; a refusal is a 400 (404 for not found) in the gateway's shape."""
        return self.svc.custom(module, name, req)

    def at_commit(self, fn: Callable[[Ctx], T]) -> T:
        with self.node.lock:
            return fn(self.node.app.query_ctx())

    def query_fn(self, module: str, name: str) -> Callable[[Ctx, dict[str, Any]], Any]:
        """A module's query function itself, to call on a context of ``at_commit``."""
        for m in self.node.app.modules:
            if m.name == module:
                fn: Callable[[Ctx, dict[str, Any]], Any] = m.queries[name]
                return fn
        raise KeyError(module)


def pagination(
    key: str = Query("", alias="pagination.key", description="next_key of the page before"),
    offset: str = Query("", alias="pagination.offset", description="items to skip"),
    limit: str = Query("", alias="pagination.limit", description="page size (100; at most 1000)"),
    count_total: str = Query(
        "", alias="pagination.count_total", description="true: answer the list's size in total"
    ),
    reverse: str = Query("", alias="pagination.reverse", description="true: last item first"),
) -> PageRequest:
    """The ``pagination.*`` parameters (strings here, so that FastAPI never answers a 422:
    ``page_request_of`` checks them and a bad one is a 400 that names it)."""
    return page_request_of(key, offset, limit, count_total, reverse)
