"""Swagger UI at /swagger in headless Chromium, with every request to another host
refused: the page draws the node's routes from /openapi.json, and "Try it out" on a
module route shows the node's answer. Uses Debian's chromium and playwright-core from
tests/app/browser (scripts/setup-browser installs both; VCOIN_REQUIRE_BROWSER=1 makes a
missing one an error rather than a skip, as for the explorer's browser test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.node import Node
from app.rest import swagger
from tests.support.nodes import inproc_node

BROWSER_DIR = Path(__file__).with_name("browser")
PLAYWRIGHT = BROWSER_DIR / "node_modules" / "playwright-core"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _why_not() -> str:
    if _chromium() is None:
        return "no chromium (scripts/setup-browser installs Debian's)"
    if shutil.which("node") is None:
        return "no node (Node.js 20+)"
    if not PLAYWRIGHT.is_dir():
        return "tests/app/browser/node_modules missing (scripts/setup-browser runs npm ci)"
    if not (swagger.UI_DIR / "swagger-ui-bundle.js").is_file():
        return "app/rest/ui/node_modules missing (scripts/setup-swagger-ui runs npm ci)"
    return ""


_WHY = _why_not()
if _WHY and os.environ.get("VCOIN_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"VCOIN_REQUIRE_BROWSER=1 but {_WHY}")
pytestmark = pytest.mark.skipif(bool(_WHY), reason=_WHY)

DRIVER = r"""
const { chromium } = require(process.env.PLAYWRIGHT);
(async () => {
  const base = process.env.BASE;
  const out = { outside: [], errors: [], operations: [], answer: "" };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30000);
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(base) || url.startsWith("data:")) return route.continue();
      out.outside.push(url);
      return route.abort();
    });
    page.on("pageerror", (e) => out.errors.push(e.message));
    await page.goto(base + "/swagger");
    await page.waitForSelector(".opblock-summary-path");
    out.title = await page.locator(".info .title").first().innerText();
    out.operations = await page.locator(".opblock-summary-path").allInnerTexts();
    const op = page.locator("#operations-jobs-params_vcoin_jobs_v1_params_get");
    await op.locator(".opblock-summary").click();
    await op.locator("button.try-out__btn").click();
    await op.locator("button.execute").click();
    const body = op.locator(".live-responses-table .response-col_description pre").first();
    await body.waitFor();
    out.answer = await body.innerText();
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("swagger"), jsonrpc_laddr="") as n:
        yield n


def drive(node: Node, tmp_path: Path) -> dict[str, Any]:
    script = tmp_path / "swagger.cjs"
    script.write_text(DRIVER)
    env = dict(
        os.environ,
        PLAYWRIGHT=str(PLAYWRIGHT),
        CHROMIUM=str(_chromium()),
        BASE=f"http://{node.cfg.rest_laddr}",
    )
    r = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, f"the browser driver failed:\n{r.stderr[-4000:]}"
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def test_swagger_ui_draws_the_api_and_runs_a_route_offline(node: Node, tmp_path: Path) -> None:
    out = drive(node, tmp_path)
    assert out["outside"] == [], "the page asked another host"
    assert out["errors"] == []
    assert out["title"].startswith("VCoin REST API")
    ops = {o.replace("\u200b", "") for o in out["operations"]}
    for path in (
        "/vcoin/jobs/v1/jobs/{id}",
        "/vcoin/staking/v1/bonds",
        "/vcoin/evm/v1/storage/{address}/{slot}",
        "/cosmos/bank/v1beta1/balances/{address}",
    ):
        assert path in ops, path
    answer = json.loads(out["answer"])
    assert answer["params"]["burn_bps"] == 1000
