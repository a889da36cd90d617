"""The TypeScript SDK (``sdk/js``) under pytest: its own tests (``npm test``: unit
tests, the shared vectors byte for byte, and the integration test) against the
``sdk_devnet`` node, worker and oracle; and its generated protobuf code against
a fresh generation from ``proto/``.

``scripts/setup-sdk-js`` installs the pinned packages first (``npm ci``, skipped
while ``node_modules`` matches ``package-lock.json``). Without Node.js and npm
these tests skip, saying so, unless ``VCOIN_REQUIRE_NODE`` is set; then they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.sdk.conftest import SdkDevnet
from tests.support.tools import output_tail, require_tools

REPO = Path(__file__).resolve().parents[2]
SDK_JS = REPO / "sdk" / "js"
SETUP = REPO / "scripts" / "setup-sdk-js"
NPM_TIMEOUT = 900  # s: tsc, the unit tests, and a job run to settlement on a CPU worker
# test/integration.test.ts, as the spec reporter names them
INTEGRATION = [
    "sends VCN to a fresh key and back",
    "posts a job that a worker runs, waits for settlement and checks the output",
    "bonds, unbonds and registers a worker, and cancels a job no worker can take",
]


def _require_npm() -> None:
    require_tools(
        ("node", "npm"), "the TypeScript SDK needs Node.js 20+ and npm", "VCOIN_REQUIRE_NODE"
    )


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=SDK_JS,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
    )


def _output(r: subprocess.CompletedProcess[str]) -> str:
    return output_tail(r)


@pytest.fixture(scope="module")
def npm_ready() -> None:
    _require_npm()
    r = _run([str(SETUP)])
    assert r.returncode == 0, f"scripts/setup-sdk-js failed (exit {r.returncode}):\n{_output(r)}"


def test_generated_code_equals_a_fresh_generation(npm_ready: None) -> None:
    r = _run(["npm", "run", "--silent", "gen:check"])
    assert r.returncode == 0, f"sdk/js/src/gen is stale; run `npm run gen` in sdk/js:\n{_output(r)}"


@pytest.mark.slow
def test_npm_test_against_the_sdk_devnet(npm_ready: None, sdk_devnet: SdkDevnet) -> None:
    d = sdk_devnet
    env = {
        **d.env(),
        "VCOIN_RPC": d.rpc_url,
        "VCOIN_REST": d.rest_url,
        "VCOIN_CHAIN_ID": d.chain_id,
        "VCOIN_MNEMONIC": d.mnemonics["js"],
        "VCOIN_ADDRESS": d.addresses["js"],
        "VCOIN_JOB_MODEL": "tiny-lm",
    }
    r = _run(["npm", "test"], env)
    out = _output(r)
    assert r.returncode == 0, f"npm test failed (exit {r.returncode}):\n{out}"
    # the integration tests ran rather than skipped (node --test counts a skipped
    # suite in no summary line, so look for the tests themselves)
    ran = [t for t in INTEGRATION if re.search(rf"^\s*\S+ {re.escape(t)} \(", r.stdout, re.M)]
    assert ran == INTEGRATION, f"the integration tests did not all run: {ran}\n{out}"
    d.check_alive()
