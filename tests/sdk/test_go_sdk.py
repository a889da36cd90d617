"""The Go SDK (``sdk/go``) under pytest: its generated protobuf code against a fresh
generation from ``proto/`` (``sdk/go/gen.sh --check``), its unit tests (the shared
vectors byte for byte, bad input, a node that is down, a fake node), and its
integration tests against the ``sdk_devnet`` node, worker and oracle.

``go`` fetches the pinned modules of ``sdk/go/go.sum`` into its module cache
(``go env GOMODCACHE``, left where it is) on the first run; later runs need no
network. Without ``go`` these tests skip, saying so, unless ``VCOIN_REQUIRE_GO`` is
set; then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sdk.conftest import SdkDevnet
from tests.support.tools import output_tail

REPO = Path(__file__).resolve().parents[2]
SDK_GO = REPO / "sdk" / "go"
GO_TIMEOUT = 900  # s: a cold build of the module's dependencies on 2 cores, and a job run
# sdk/go/vcoin/integration_test.go
INTEGRATION = [
    "TestIntegrationSend",
    "TestIntegrationJob",
    "TestIntegrationOperator",
    "TestIntegrationWebsocket",
]


def _require_go() -> str:
    go = shutil.which("go")
    if go is not None:
        return go
    why = "go not installed: the Go SDK needs Go 1.26+ (scripts/setup installs it for CometBFT)"
    if os.environ.get("VCOIN_REQUIRE_GO"):
        pytest.fail(f"{why} (VCOIN_REQUIRE_GO is set)")
    pytest.skip(why)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # the caller's VCOIN_* settings never reach go test: only what a test passes
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
    env["VCOIN_PYTHON"] = str(REPO / ".venv" / "bin" / "python")
    return {**env, **(extra or {})}


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=SDK_GO,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=GO_TIMEOUT,
    )


def _output(r: subprocess.CompletedProcess[str]) -> str:
    return output_tail(r)


@pytest.fixture(scope="module")
def go() -> str:
    return _require_go()


def test_generated_code_equals_a_fresh_generation(go: str) -> None:
    r = _run(["bash", str(SDK_GO / "gen.sh"), "--check"])
    assert r.returncode == 0, f"sdk/go/gen is stale; run sdk/go/gen.sh:\n{_output(r)}"


def test_go_vet_and_unit_tests(go: str) -> None:
    """go vet, then go test ./... with no node named: the integration tests skip."""
    r = _run([go, "vet", "./..."])
    assert r.returncode == 0, f"go vet failed (exit {r.returncode}):\n{_output(r)}"
    # -short: the generated code is checked above
    r = _run([go, "test", "-count=1", "-short", "-v", "./..."])
    out = _output(r)
    assert r.returncode == 0, f"go test failed (exit {r.returncode}):\n{out}"
    for name in ("TestVectorKeys", "TestVectorTxs", "TestVectorBadInputs", "TestNodeDown"):
        assert re.search(rf"^--- PASS: {name} ", r.stdout, re.M), f"{name} did not pass:\n{out}"


@pytest.mark.slow
def test_go_test_against_the_sdk_devnet(go: str, sdk_devnet: SdkDevnet) -> None:
    d = sdk_devnet
    env = {
        **d.env(),
        "VCOIN_RPC": d.rpc_url,
        "VCOIN_REST": d.rest_url,
        "VCOIN_CHAIN_ID": d.chain_id,
        "VCOIN_MNEMONIC": d.mnemonics["go"],
        "VCOIN_JOB_MODEL": "tiny-lm",
    }
    r = _run([go, "test", "-count=1", "-v", "-run", "Integration", "./vcoin/"], env)
    out = _output(r)
    assert r.returncode == 0, f"go test against the devnet failed (exit {r.returncode}):\n{out}"
    # they ran rather than skipped
    ran = [t for t in INTEGRATION if re.search(rf"^--- PASS: {t} ", r.stdout, re.M)]
    assert ran == INTEGRATION, f"the integration tests did not all pass: {ran}\n{out}"
    d.check_alive()
