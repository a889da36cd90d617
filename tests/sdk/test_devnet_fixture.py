"""``sdk_devnet`` (tests/sdk/conftest.py) is what its docstring says: the node answers
on both ports with the chain id, the SDK accounts are funded, the worker and the
oracle run. The other SDKs' test wrappers rely on it."""

from __future__ import annotations

import httpx
import pytest

from tests.sdk.conftest import FUNDED_VCN, VCN, SdkDevnet

pytestmark = pytest.mark.slow


def test_the_sdk_devnet_answers_with_funded_accounts(sdk_devnet: SdkDevnet) -> None:
    d = sdk_devnet
    status = httpx.post(d.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "status"}).json()
    assert status["result"]["node_info"]["network"] == d.chain_id
    for name, addr in d.addresses.items():
        r = httpx.get(f"{d.rest_url}/cosmos/bank/v1beta1/balances/{addr}")
        assert r.status_code == 200, r.text
        amounts = {c["denom"]: int(c["amount"]) for c in r.json()["balances"]}
        assert amounts.get("avcn", 0) > 0, name
        assert amounts["avcn"] <= FUNDED_VCN * VCN
    env = d.env()
    assert env["VCOIN_SDK_MNEMONIC_GO"] == d.mnemonics["go"]
    d.check_alive()
