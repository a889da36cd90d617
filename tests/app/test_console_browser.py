"""The web console (``/explorer/console.html``) in headless Chromium, with a stand-in
for MetaMask.

One node in this process (marketplace genesis, every result sampled) with a registered,
bonded worker and an oracle; a thread of this test plays both: it claims each queued job,
submits a result with a signed receipt and attests it, so a job the page posts settles.
The page loads the TypeScript SDK's browser bundle, built fresh here by
``scripts/setup-sdk-js`` (``sdk/js/scripts/bundle.mjs``). Chromium (Debian's, driven
by playwright-core, ``tests/app/browser/console.mjs``) gets ``tests/app/browser/eip1193.js``
as ``window.ethereum``: a test EIP-1193 provider holding a known, funded Ethereum key that
signs in the page and forwards to the node's JSON-RPC. The page connects it (switching it
to chain 0x5643 after adding the chain), sends VCN through it by ``eth_sendTransaction``,
imports a dev key (hex), posts a job with it and shows the job's state until "settled",
and bonds that key as a worker. Screenshots go to ``$VCOIN_TEST_ARTIFACTS/console``
(default ``.test-artifacts/console``). Datasets, training and the bond through the wallet:
``tests/app/test_console_training_browser.py``.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from app.node import Node
from chain.client import NodeClient
from chain.crypto import PrivateKey, to_bech32
from modules.bank.msgs import MsgSend
from modules.staking.msgs import Coin
from modules.verification import attestation
from modules.verification import msgs as vm
from tests.app.test_explorer_browser import BROWSER_DIR, ROOT, SAMPLE_ALL, chromium_path
from tests.app.test_explorer_browser import needs_browser as needs_browser
from tests.support.browser import artifacts_dir as browser_artifacts
from tests.support.browser import run_driver
from tests.support.chain import test_key
from tests.support.genesis import h32, market_genesis
from tests.support.market import bond_worker_and_oracle, claim_and_submit
from tests.support.nodes import inproc_node

VCN = 10**18
IMAGE = "sha256:" + "ce" * 32
ETH_SECRET = h32("console-browser-eth-key")
# tests/sdk/conftest.py's "js" account: a public test mnemonic and its m/44'/118'/0'/0/0 address
MNEMONIC = (
    "remember orphan fame praise mixture civil globe deputy title ability wear weird rug "
    "scene debate clinic board lawsuit awesome cage broom decorate pet pencil"
)
MNEMONIC_ADDRESS = "vcoin1fsj4yslfhj6x2zdehpraf33csgs9qppxwpdhsl"


@dataclass
class Market:
    node: Node
    rest: str
    client: NodeClient
    eth_hex: str  # the stand-in wallet's account, 0x…
    dev: PrivateKey  # imported into the page as hex
    worker: str  # vcoin1…, the worker the thread plays
    served: list[int]  # job ids the worker thread took
    worker_errors: list[str]  # what went wrong in that thread


def _send(client: NodeClient, key: PrivateKey, *msgs: Any) -> Any:
    return client.send_tx(key, list(msgs), gas="auto")


def _serve_one(
    client: NodeClient, worker: PrivateKey, oracle: PrivateKey, sk: SigningKey, job_id: int
) -> None:
    """Claim ``job_id``, submit a result with a signed receipt, attest "pass" once sampled."""
    claim_and_submit(client, worker, job_id, h32(f"console output {job_id}"), IMAGE)
    chain_id = client.chain_id()
    for _ in range(150):
        if client.query("jobs", "job", {"id": str(job_id)})["state"] == "checking":
            break
        threading.Event().wait(0.2)
    evidence = h32(f"console evidence {job_id}")
    att = attestation.sign(sk, chain_id, job_id, "pass", 9_900, evidence)
    _send(
        client,
        oracle,
        vm.MsgAttest(
            oracle=oracle.bech32,
            job_id=job_id,
            verdict="pass",
            similarity_bps=9_900,
            evidence_hash=evidence.hex(),
            signature=att,
        ),
    )


def _worker_and_oracle(
    rpc: str,
    worker: PrivateKey,
    oracle: PrivateKey,
    sk: SigningKey,
    stop: threading.Event,
    served: list[int],
    errors: list[str],
) -> None:
    first_seen: dict[int, float] = {}
    with NodeClient(rpc) as client:
        while not stop.wait(0.3):
            for job in client.query("jobs", "jobs", {"state": "queued"})["jobs"]:
                job_id = int(job["id"])
                # a worker's latency: the page sees the job queued before it moves on
                if time.monotonic() - first_seen.setdefault(job_id, time.monotonic()) < 1.5:
                    continue
                served.append(job_id)
                try:
                    _serve_one(client, worker, oracle, sk, job_id)
                except Exception as e:  # the test reports it (a job the page waits on)
                    served.append(-1)
                    errors.append(f"job {job_id}: {e!r}")


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    doc = market_genesis(5, merge=True, verification=SAMPLE_ALL, staking={"jail_blocks": 100_000})
    with inproc_node(tmp_path_factory.mktemp("console"), doc, block_time_ms=200) as node:
        rpc, rest = f"http://{node.cfg.rpc_laddr}", f"http://{node.cfg.rest_laddr}"
        with NodeClient(rpc) as client:
            funder, worker, oracle, dev = test_key(0), test_key(1), test_key(2), test_key(3)
            sk = bond_worker_and_oracle(client, worker, oracle, "console")
            from eth_account import Account

            eth_hex = str(Account.from_key(ETH_SECRET).address)
            _send(
                client,
                funder,
                MsgSend(
                    from_address=funder.bech32,
                    to_address=to_bech32(bytes.fromhex(eth_hex[2:])),
                    amount=[Coin(denom="avcn", amount=str(10 * VCN))],
                ),
            )
            stop = threading.Event()
            served: list[int] = []
            errors: list[str] = []
            t = threading.Thread(
                target=_worker_and_oracle,
                args=(rpc, worker, oracle, sk, stop, served, errors),
                daemon=True,
            )
            t.start()
            try:
                yield Market(node, rest, client, eth_hex, dev, worker.bech32, served, errors)
            finally:
                stop.set()
                t.join(30)


def artifacts_dir() -> Path:
    return browser_artifacts("console")


def _bundle() -> None:
    """The SDK's browser bundle, fresh from sdk/js/src (the page imports it):
    scripts/setup-sdk-js installs sdk/js's pinned packages once and bundles every run."""
    r = subprocess.run([str(ROOT / "scripts" / "setup-sdk-js")], capture_output=True, text=True)
    assert r.returncode == 0, f"scripts/setup-sdk-js failed:\n{r.stderr[-3000:]}"
    assert (ROOT / "app/explorer/static/console/vcoin-sdk.js").stat().st_size > 100_000


@needs_browser
def test_console_wallet_send_job_and_bond(market: Market, tmp_path: Path) -> None:
    m = market
    _bundle()
    to_hex = "0x" + h32("console-browser-recipient")[:20].hex()
    to_bech32_ = to_bech32(bytes.fromhex(to_hex[2:]))
    dev_bech32 = m.dev.bech32
    plan = {
        "url": f"{m.rest}/explorer/console.html",
        "chromium": chromium_path(),
        "out": str(artifacts_dir()),
        "eth_key": ETH_SECRET.hex(),
        "send_to": to_hex,
        "send_to_bech32": to_bech32_,
        "send_amount": "1.5",
        "erc20_amount": "0.5",
        "send_total": "2",
        "dev_key": m.dev.secret.hex(),
        "dev_bech32": dev_bech32,
        "bond_amount": "1000",
        "mnemonic": MNEMONIC,
    }
    out = run_driver(BROWSER_DIR / "console.mjs", plan, tmp_path, artifacts_dir() / "console.json")
    assert m.worker_errors == [], m.worker_errors
    assert out["errors"] == [], out["errors"]
    steps = out["steps"]

    # the wallet: asked for accounts, added chain 0x5643 when the switch said 4902, switched
    c = steps["connected"]
    assert c["account"].lower().startswith(m.eth_hex.lower()), c["account"]
    assert to_bech32(bytes.fromhex(m.eth_hex[2:])) in c["account"]
    calls = c["calls"]
    assert calls.index("eth_requestAccounts") < calls.index("wallet_addEthereumChain")
    assert calls.count("wallet_switchEthereumChain") == 2, calls
    assert "0x5643" in c["wallet"]
    wallet_row = next(
        b for b in c["balances"] if b["address"] == to_bech32(bytes.fromhex(m.eth_hex[2:]))
    )
    assert wallet_row["balance"] == "10VCN"

    # 1.5 VCN sent through the wallet (eth_sendTransaction, a value transfer) shows
    s = steps["sent"]
    assert s["status"].startswith("sent 1.5VCN in EVM tx 0x"), s["status"]
    assert "eth_sendTransaction" in s["calls"]
    row = next(b for b in s["balances"] if b["address"] == to_bech32_)
    assert row["balance"] == "1.5VCN"
    assert to_hex.lower() in row["text"].lower()  # both forms

    # then 0.5 VCN through VCoin.sol's transfer (ERC-20 at 0x…0c01): 2 VCN in all
    e = steps["sent-erc20"]
    assert e["status"].startswith("sent 0.5VCN in VCoin.sol transfer 0x"), e["status"]
    assert next(b for b in e["balances"] if b["address"] == to_bech32_)["balance"] == "2VCN"
    assert m.client.balance(to_bech32_) == 2 * VCN

    # a job posted through the wallet (JobMarket.sol) and one with the dev key (MsgPostJob):
    # each shown live from queued to settled
    eth_bech32 = to_bech32(bytes.fromhex(m.eth_hex[2:]))
    for name, poster in (("job-wallet", eth_bech32), ("job", dev_bech32)):
        j = steps[name]
        assert j["state"] == "settled", j
        job_id = int(j["job_id"])
        assert job_id in m.served
        seen = [line.split(" ")[0] for line in j["log"]]
        assert seen[0] == "queued" and seen[-1] == "settled", j["log"]
        assert seen == sorted(set(seen), key=seen.index)  # each state once, in order
        assert f"(worker {m.worker})" in j["log"][-1]
        job = m.client.query("jobs", "job", {"id": str(job_id)})
        assert job["state"] == "settled" and job["poster"] == poster, job
    assert steps["job"]["key"].startswith(dev_bech32)
    assert int(steps["job"]["job_id"]) != int(steps["job-wallet"]["job_id"])

    # bonded as a worker with the dev key: the page shows the bond, the chain has it
    b = steps["bonded"]
    assert b["status"].startswith("bonded 1000VCN as a worker"), b["status"]
    row = next(x for x in b["balances"] if x["address"] == dev_bech32)
    assert "worker 1000VCN" in row["bonds"]
    bond = m.client.query("staking", "bond", {"address": dev_bech32, "role": "worker"})
    assert int(bond["bonded"]) == 1_000 * VCN

    # a mnemonic imports the same account the SDKs derive (m/44'/118'/0'/0/0); the field
    # is emptied (the key stays in the page's memory only)
    assert steps["mnemonic"]["key"].startswith(MNEMONIC_ADDRESS + " · 0x")
    assert steps["mnemonic"]["field"] == ""

    # and it reads on a phone
    assert steps["phone"]["overflow"] <= 1, steps["phone"]["overflow"]
