"""/openapi.json covers the whole REST app, and Swagger UI at /swagger is served by the
node from the pinned swagger-ui-dist (scripts/setup-swagger-ui) with no outside URL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.node import Node
from app.rest import swagger
from chain.rest.server import build_rest_app
from tests.support.nodes import inproc_node

# the routes the explorer and wallets are written against (app/rest/__init__.py)
MODULE_ROUTES = {
    "/vcoin/jobs/v1/jobs/{id}",
    "/vcoin/jobs/v1/jobs",
    "/vcoin/jobs/v1/workers",
    "/vcoin/jobs/v1/workers/{address}",
    "/vcoin/jobs/v1/models",
    "/vcoin/jobs/v1/models/{name}",
    "/vcoin/jobs/v1/queue",
    "/vcoin/jobs/v1/stats",
    "/vcoin/jobs/v1/params",
    "/vcoin/staking/v1/bonds",
    "/vcoin/staking/v1/bonds/{address}",
    "/vcoin/staking/v1/validators",
    "/vcoin/staking/v1/pool",
    "/vcoin/staking/v1/params",
    "/vcoin/verification/v1/attestations/{job_id}",
    "/vcoin/verification/v1/pending",
    "/vcoin/verification/v1/risk/{worker}",
    "/vcoin/verification/v1/params",
    "/vcoin/reputation/v1/workers/{address}",
    "/vcoin/reputation/v1/params",
    "/vcoin/mint/v1/epochs",
    "/vcoin/mint/v1/minted",
    "/vcoin/mint/v1/params",
    "/vcoin/slashing/v1/missed_blocks/{address}",
    "/vcoin/slashing/v1/params",
    "/vcoin/authz/v1/grants",
    "/vcoin/authz/v1/params",
    "/vcoin/drip/v1/pool",
    "/vcoin/drip/v1/dripped/{address}",
    "/vcoin/drip/v1/params",
    "/vcoin/evm/v1/accounts/{address}",
    "/vcoin/evm/v1/code/{address}",
    "/vcoin/evm/v1/storage/{address}/{slot}",
    "/vcoin/evm/v1/base_fee",
    "/vcoin/evm/v1/params",
}
PAGED = {
    "/vcoin/jobs/v1/jobs",
    "/vcoin/jobs/v1/workers",
    "/vcoin/jobs/v1/models",
    "/vcoin/jobs/v1/queue",
    "/vcoin/staking/v1/bonds",
    "/vcoin/staking/v1/validators",
    "/vcoin/verification/v1/pending",
    "/vcoin/authz/v1/grants",
}
PAGINATION = {
    "pagination.key",
    "pagination.offset",
    "pagination.limit",
    "pagination.count_total",
    "pagination.reverse",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("openapi"), jsonrpc_laddr="") as n:
        yield n


@pytest.fixture(scope="module")
def rest(node: Node) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{node.cfg.rest_laddr}", timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def doc(rest: httpx.Client) -> dict[str, Any]:
    r = rest.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    out: dict[str, Any] = r.json()
    return out


def served_routes(node: Node) -> list[APIRoute]:
    """The REST app's routes, built as the node builds the app it serves."""
    app = build_rest_app(node)
    node.extend_rest(app)
    return [r for r in app.routes if isinstance(r, APIRoute)]


def test_every_mounted_route_is_in_the_document(node: Node, doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "VCoin REST API"
    paths = doc["paths"]
    routes = served_routes(node)
    documented = [r for r in routes if r.include_in_schema]
    assert len(documented) >= len(MODULE_ROUTES) + 20
    for r in documented:
        assert r.path in paths, r.path
        for method in r.methods or ():
            assert method.lower() in paths[r.path], (method, r.path)
    # the Cosmos routes are there too, and every module route the explorer relies on
    for p in (
        "/cosmos/bank/v1beta1/balances/{address}",
        "/cosmos/tx/v1beta1/txs",
        "/cosmos/base/tendermint/v1beta1/blocks/{height}",
    ):
        assert p in paths
    assert MODULE_ROUTES <= set(paths)
    # the only routes left out are Swagger UI's own page and files
    hidden = {r.path for r in routes if not r.include_in_schema}
    assert {"/swagger", "/docs", "/swagger/init.js", "/swagger/{name}"} <= hidden
    assert not {p for p in hidden if p.startswith(("/vcoin", "/cosmos"))}


def test_module_routes_declare_their_parameters(doc: dict[str, Any]) -> None:
    for path in MODULE_ROUTES:
        op = doc["paths"][path]["get"]
        assert op.get("summary"), path
        assert op.get("tags") == [path.split("/")[2]], path
        params = {p["name"]: p for p in op.get("parameters", [])}
        for name in re.findall(r"{(\w+)}", path):
            assert params[name]["in"] == "path", (path, name)
        if path in PAGED:
            assert PAGINATION <= set(params), path
            assert all(params[n]["in"] == "query" for n in PAGINATION)
        else:
            assert not PAGINATION & set(params), path
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        bad = op["responses"]["400"]["content"]["application/json"]["schema"]
        assert bad["required"] == ["code", "message", "details"], path
        if path in PAGED:
            assert "pagination" in ok["required"], path
            assert ok["properties"]["pagination"]["required"] == ["next_key", "total"]
    jobs = {p["name"] for p in doc["paths"]["/vcoin/jobs/v1/jobs"]["get"]["parameters"]}
    assert {"state", "poster", "worker"} <= jobs
    risk = doc["paths"]["/vcoin/verification/v1/risk/{worker}"]["get"]["parameters"]
    assert "price" in {p["name"] for p in risk}


def test_swagger_page_names_no_outside_url_and_its_files_are_served(
    rest: httpx.Client,
) -> None:
    r = rest.get("/swagger")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, html
    assert not re.search(r"(?i)https?:|//[a-z]", html), "the page names an outside URL"
    for ref in refs:
        assert ref.startswith("/swagger/"), ref
        got = rest.get(ref)
        assert got.status_code == 200, ref
        assert len(got.content) > 0
    scripts = re.findall(r'src="([^"]+)"', html)
    assert "/swagger/swagger-ui-bundle.js" in scripts
    bundle = rest.get("/swagger/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.content == (swagger.UI_DIR / "swagger-ui-bundle.js").read_bytes()
    assert len(bundle.content) > 500_000  # the real bundle, not a stub
    css = rest.get("/swagger/swagger-ui.css")
    assert css.headers["content-type"].startswith("text/css")
    init = rest.get("/swagger/init.js").text
    assert '"/openapi.json"' in init
    assert "validatorUrl: null" in init  # no document sent to an outside validator
    assert not re.search(r"(?i)https?:", init)


def test_docs_leads_to_swagger_and_unknown_files_are_404(rest: httpx.Client) -> None:
    r = rest.get("/docs", follow_redirects=False)
    assert r.status_code in (302, 307)
    assert r.headers["location"] == "/swagger"
    for name in ("../../../../etc/passwd", "package.json", "swagger-ui.js.map", "index.html"):
        got = rest.get("/swagger/" + name)
        assert got.status_code == 404, name
        assert set(got.json()) == {"code", "message", "details"}


def test_the_document_is_readable_from_another_origin(rest: httpx.Client) -> None:
    r = rest.get("/openapi.json", headers={"Origin": "http://elsewhere.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
