"""A gateway (``vcoin-gateway start``, a subprocess) beside ``sdk_devnet``'s node, worker and
oracle, for the SDKs' gateway tests (``test_python_gateway.py``, ``test_js_gateway.py``,
``test_go_gateway.py``).

``sdk_gateway(devnet, tmp, name)`` yields a ``SdkGateway``: its URL (``/v1`` under it) and
its chain account: a fresh key per gateway, funded from the devnet's ``faucet`` dev
account and imported into the gateway's keystore as ``gateway`` (test backend). SQLite
store, sign-in domain and URI the listen address, ``PRICE`` escrowed per job.
``grant(mnemonic, eth=False)``: that mnemonic's account (its coin-type-60
``eth_secp256k1`` key with ``eth``, funded first from the Cosmos key) grants the gateway
``MsgPostJob`` up to ``GRANT``, so the gateway may post jobs for it. ``env()`` is what
the Go and TypeScript tests read (``VCOIN_SDK_GATEWAY``, ``VCOIN_SDK_GATEWAY_ACCOUNT``).

Chain txs go through the Python SDK (``vcoin_sdk``), not the node's modules: the SDK's
generated protos and the node's share file names, and one process holds one of them.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from vcoin_sdk import Client, EthKey, Key
from vcoin_sdk.gateway import grant_msg

from chain.keystore import Keystore
from tests.sdk.conftest import SdkDevnet

VCN = 10**18
GRANT = 50 * VCN  # each user's authz budget for the gateway
PRICE = VCN  # each job's escrow (the gateway's max_price)
BIN = Path(sys.executable).parent


@dataclass
class SdkGateway:
    url: str
    account: str
    client: Client
    log: Path

    def grant(self, mnemonic: str, *, eth: bool = False, amount: int = GRANT) -> str:
        """The mnemonic's account (``eth``: its eth_secp256k1 key) grants the gateway;
        returns that account's ``vcoin1…``."""
        cosmos = Key.from_mnemonic(mnemonic)
        key: Key = EthKey.from_mnemonic(mnemonic) if eth else cosmos
        if eth and self.client.account(key.address) is None:
            assert self.client.send(cosmos, key.address, 2 * amount).ok
        assert self.client.send_tx(key, [grant_msg(key.address, self.account, amount)]).ok
        return key.address

    def env(self) -> dict[str, str]:
        return {"VCOIN_SDK_GATEWAY": self.url, "VCOIN_SDK_GATEWAY_ACCOUNT": self.account}

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sdk_gateway(devnet: SdkDevnet, tmp: Path, name: str) -> Iterator[SdkGateway]:
    secret = hashlib.sha256(b"vcoin-sdk-gateway-" + name.encode()).hexdigest()
    key = Key.from_hex(secret)
    home = tmp / "gateway"
    Keystore(home).import_secret("gateway", secret, None, "test")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "gateway.log"
    client = Client(devnet.rpc_url, devnet.rest_url)
    assert client.send(Key.from_hex(devnet.dev_keys["faucet"]), key.address, 1000 * VCN).ok
    cmd = [
        str(BIN / "vcoin-gateway"), "--home", str(home), "start",
        "--listen", f"127.0.0.1:{port}", "--rpc", devnet.rpc_url, "--rest", devnet.rest_url,
        "--key", "gateway", "--jwt-secret", f"sdk-test-{name}", "--max-price", str(PRICE),
        "--job-timeout-s", "240", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    gw = SdkGateway(url, key.address, client, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"vcoin-gateway exited {proc.returncode}:\n{gw.tail()}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"vcoin-gateway did not answer:\n{gw.tail()}"
            time.sleep(0.2)
        yield gw
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        client.close()
