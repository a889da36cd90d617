"""The TypeScript SDK's gateway client and eth_secp256k1 / EIP-1193 paths under pytest:
``sdk/js/test/gateway.test.ts`` against ``sdk_devnet`` (node, worker, oracle) and a
``vcoin-gateway`` beside it (``tests/sdk/gateway_env.py``), with the node's Ethereum
JSON-RPC for the EIP-1193 provider. Skips without Node.js and npm unless
``VCOIN_REQUIRE_NODE`` is set (as ``test_js_sdk.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sdk.conftest import SdkDevnet
from tests.sdk.gateway_env import SdkGateway, sdk_gateway
from tests.sdk.test_js_sdk import _output, _require_npm, _run

pytestmark = pytest.mark.slow
SETUP = Path(__file__).resolve().parents[2] / "scripts" / "setup-sdk-js"
TESTS = [
    "signs in three ways and manages keys",
    "a completion and a streamed chat equal the settled outputs",
    "a streamed completion: text_completion chunks, one index per prompt",
    "embeddings: one vector per input from a settled job",
    "refusals are GatewayErrors with status and OpenAI's code",
    "an EIP-1193 provider sends an EVM value transfer with eth_sendTransaction",
]


@pytest.fixture(scope="module")
def gateway(
    sdk_devnet: SdkDevnet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SdkGateway]:
    _require_npm()
    r = _run([str(SETUP)])
    assert r.returncode == 0, f"scripts/setup-sdk-js failed:\n{_output(r)}"
    with sdk_gateway(sdk_devnet, tmp_path_factory.mktemp("js-gw"), "js") as gw:
        yield gw


def test_the_js_gateway_tests_against_a_gateway(sdk_devnet: SdkDevnet, gateway: SdkGateway) -> None:
    env = {**sdk_devnet.env(), **gateway.env(), "VCOIN_SDK_JSONRPC": sdk_devnet.market.node.jsonrpc}
    r = _run(["npm", "run", "--silent", "build"])
    assert r.returncode == 0, f"tsc failed:\n{_output(r)}"
    r = _run(["node", "--test", "--test-reporter=spec", "dist/test/gateway.test.js"], env)
    out = _output(r)
    assert r.returncode == 0, (
        f"gateway.test.js failed (exit {r.returncode}):\n{out}\n{gateway.tail()}"
    )
    ran = [t for t in TESTS if re.search(rf"^\s*✔ {re.escape(t)} \(", r.stdout, re.M)]
    assert ran == TESTS, f"not every gateway test ran and passed: {ran}\n{out}"
    sdk_devnet.check_alive()
