"""The Go SDK's gateway client and eth_secp256k1 signing under pytest:
``sdk/go/vcoin/gateway_test.go`` against ``sdk_devnet`` (node, worker, oracle) and a
``vcoin-gateway`` beside it (``tests/sdk/gateway_env.py``); the eth vectors
(``eth_test.go``) run with the unit tests in ``test_go_sdk.py`` and here too. Skips
without ``go`` unless ``VCOIN_REQUIRE_GO`` is set (as ``test_go_sdk.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.sdk.conftest import SdkDevnet
from tests.sdk.gateway_env import SdkGateway, sdk_gateway
from tests.sdk.test_go_sdk import _output, _require_go, _run

pytestmark = pytest.mark.slow
TESTS = [
    "TestEthTxVectors",
    "TestPersonalSignVectors",
    "TestGatewayHelpers",
    "TestGatewayAgainstANode",
    "TestGatewayAgainstANode/keys",
    "TestGatewayAgainstANode/completion_and_streamed_chat",
    "TestGatewayAgainstANode/streamed_completion",
    "TestGatewayAgainstANode/embeddings",
    "TestGatewayAgainstANode/refusals",
]


@pytest.fixture(scope="module")
def gateway(
    sdk_devnet: SdkDevnet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SdkGateway]:
    _require_go()
    with sdk_gateway(sdk_devnet, tmp_path_factory.mktemp("go-gw"), "go") as gw:
        yield gw


def test_the_go_gateway_tests_against_a_gateway(sdk_devnet: SdkDevnet, gateway: SdkGateway) -> None:
    env = {**sdk_devnet.env(), **gateway.env()}
    r = _run(["go", "test", "-count=1", "-v", "-run", "Eth|PersonalSign|Gateway", "./vcoin/"], env)
    out = _output(r)
    why = f"go test failed (exit {r.returncode}):\n{out}\ngateway log:\n{gateway.tail()}"
    assert r.returncode == 0, why
    ran = [t for t in TESTS if re.search(rf"^\s*--- PASS: {re.escape(t)} ", r.stdout, re.M)]
    assert ran == TESTS, f"not every Go gateway test ran and passed: {ran}\n{out}"
    sdk_devnet.check_alive()
