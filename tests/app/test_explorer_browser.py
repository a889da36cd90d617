"""The block explorer (``/explorer``) in headless Chromium, on a node with real activity.

One node in this process (marketplace genesis, every result sampled) where the test,
over the node's RPC, registers and bonds a worker, bonds an oracle, posts a job, claims
it, submits a result with a signed receipt, attests it as the oracle, and sends an EVM
transfer. Then Debian's Chromium, driven by playwright-core (``tests/app/browser/``,
installed by ``scripts/setup-browser``), opens each page at a laptop and a phone
viewport; this test asserts on what the pages show. Screenshots go to
``$VCOIN_TEST_ARTIFACTS/explorer`` (default ``.test-artifacts/explorer``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from nacl.signing import SigningKey

from app.explorer import explorer_config
from app.node import Node
from chain.client import NodeClient
from chain.config import NodeConfig
from chain.crypto import PrivateKey, to_bech32
from modules.bank.msgs import MsgSend
from modules.jobs import msgs as jm
from modules.staking.msgs import Coin
from modules.verification import attestation
from modules.verification import msgs as vm
from tests.support.browser import artifacts_dir as browser_artifacts
from tests.support.browser import run_driver
from tests.support.chain import test_key
from tests.support.genesis import h32, market_genesis
from tests.support.market import bond_worker_and_oracle, claim_and_submit
from tests.support.nodes import inproc_node
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = Path(__file__).with_name("browser")
VCN = 10**18
IMAGE = "sha256:" + "ef" * 32
# init code: MSTORE(0, 42); LOG1(offset 0, size 32, topic 7); STOP (no code left behind)
LOG_INIT = bytes.fromhex("602a600052600760206000a100")
SAMPLE_ALL = {
    "base_sample_bps": 10_000,
    "max_sample_bps": 10_000,
    "new_worker_sample_bps": 10_000,
    "attest_window_blocks": 300,
    "challenge_window_blocks": 3,
}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser_ready() -> str:
    """Why the browser cannot run here ("" when it can); CI must not skip."""
    if chromium_path() is None:
        return "no chromium (scripts/setup-browser installs Debian's)"
    if shutil.which("node") is None:
        return "no node (Node.js 20+)"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "tests/app/browser/node_modules missing (scripts/setup-browser runs npm ci)"
    return ""


_WHY = _browser_ready()
if _WHY and os.environ.get("VCOIN_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"VCOIN_REQUIRE_BROWSER=1 but {_WHY}")
needs_browser = pytest.mark.skipif(bool(_WHY), reason=_WHY)


@dataclass
class Activity:
    node: Node
    rest: str
    client: NodeClient
    poster: PrivateKey
    worker: PrivateKey
    oracle: PrivateKey
    job_id: int  # settled
    cheat_id: int  # rejected: the oracle found the result wrong
    post_hash: str
    post_height: int
    eth_hash: str
    eth_sender: str  # 0x…


def _send(client: NodeClient, key: PrivateKey, *msgs: Any) -> Any:
    return client.send_tx(key, list(msgs), gas="auto")


def _evm_tx(client: NodeClient, jsonrpc: str, funder: PrivateKey) -> tuple[str, str]:
    """Fund a fresh Ethereum key by a bank send, then a contract creation signed by it
    whose init code logs one word (topic 7, data 42)."""
    from eth_account import Account

    acct = Account.from_key(h32("explorer-browser-eth-key"))
    sender = acct.address.lower()
    to = to_bech32(bytes.fromhex(sender[2:]))
    _send(
        client,
        funder,
        MsgSend(
            from_address=funder.bech32,
            to_address=to,
            amount=[Coin(denom="avcn", amount=str(10 * VCN))],
        ),
    )

    def call(method: str, *params: Any) -> Any:
        r = httpx.post(
            jsonrpc, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        )
        body = r.json()
        assert "error" not in body, body
        return body["result"]

    tx = {
        "chainId": int(call("eth_chainId"), 16),
        "nonce": int(call("eth_getTransactionCount", sender, "latest"), 16),
        "data": "0x" + LOG_INIT.hex(),  # a contract creation that logs as it runs
        "value": 0,
        "gas": 200_000,
        "maxFeePerGas": 2 * int(call("eth_gasPrice"), 16) + 10**9,
        "maxPriorityFeePerGas": 10**9,
        "type": 2,
    }
    raw = acct.sign_transaction(tx).raw_transaction
    eth_hash = call("eth_sendRawTransaction", "0x" + raw.hex())
    wait_for("the EVM transfer's receipt", lambda: call("eth_getTransactionReceipt", eth_hash), 30)
    return eth_hash, sender


def _run_job(
    client: NodeClient,
    poster: PrivateKey,
    worker: PrivateKey,
    oracle: PrivateKey,
    sk: SigningKey,
    verdict: str,
) -> tuple[int, Any]:
    """Post a job, claim it, submit a result and attest ``verdict`` on it; until it is final."""
    posted = _send(
        client,
        poster,
        jm.MsgPostJob(
            poster=poster.bech32,
            task_type="text-generation",
            model="tiny-lm",
            inline_input=b'{"prompts": ["The GPU marketplace"]}',
            max_price=str(2 * VCN),
        ),
    )
    job_id = int(posted.attributes("JobPosted", "job_id")[0])
    claim_and_submit(client, worker, job_id, h32(f"explorer output {job_id}"), IMAGE)
    chain_id = client.chain_id()

    def state() -> str:
        return str(client.query("jobs", "job", {"id": str(job_id)})["state"])

    wait_for("the job to be picked for checking", lambda: state() == "checking", 30)
    sim = 9_900 if verdict == "pass" else 1_000
    evidence = h32(f"evidence {job_id}")
    att = attestation.sign(sk, chain_id, job_id, verdict, sim, evidence)
    _send(
        client,
        oracle,
        vm.MsgAttest(
            oracle=oracle.bech32,
            job_id=job_id,
            verdict=verdict,
            similarity_bps=sim,
            evidence_hash=evidence.hex(),
            signature=att,
        ),
    )
    final = "settled" if verdict == "pass" else "rejected"
    wait_for(f"the job to be {final}", lambda: state() == final, 30)
    return job_id, posted


@pytest.fixture(scope="module")
def activity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Activity]:
    doc = market_genesis(4, merge=True, verification=SAMPLE_ALL, staking={"jail_blocks": 100_000})
    with inproc_node(tmp_path_factory.mktemp("explorer"), doc, block_time_ms=200) as node:
        rpc, rest = f"http://{node.cfg.rpc_laddr}", f"http://{node.cfg.rest_laddr}"
        with NodeClient(rpc) as client:
            poster, worker, oracle = test_key(0), test_key(1), test_key(2)
            sk = bond_worker_and_oracle(client, worker, oracle, "explorer")
            job_id, posted = _run_job(client, poster, worker, oracle, sk, "pass")
            cheat_id, _ = _run_job(client, poster, worker, oracle, sk, "fail")
            eth_hash, eth_sender = _evm_tx(client, f"http://{node.cfg.jsonrpc_laddr}", poster)
            yield Activity(
                node,
                rest,
                client,
                poster,
                worker,
                oracle,
                job_id,
                cheat_id,
                posted.hash,
                posted.height,
                eth_hash,
                eth_sender,
            )


def artifacts_dir() -> Path:
    return browser_artifacts("explorer")


def drive(base: str, steps: list[dict[str, Any]], tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Run the steps in Chromium; {"name/viewport": what the page showed}; no page errors."""
    plan = {"base": base, "chromium": chromium_path(), "out": str(artifacts_dir()), "steps": steps}
    out = run_driver(BROWSER_DIR / "drive.mjs", plan, tmp_path, artifacts_dir() / "pages.json")
    assert out["errors"] == [], out["errors"]
    return {f"{s['name']}/{s['viewport']}": s for s in out["steps"]}


@needs_browser
def test_explorer_pages_in_chromium(activity: Activity, tmp_path: Path) -> None:
    a = activity
    worker_hex = "0x" + a.worker.address.hex()
    height_before = a.client.latest_height()
    steps: list[dict[str, Any]] = [
        {"name": "home", "goto": "#/"},
        # no reload: the page redraws on the blocks the websocket announces
        {"name": "home-live", "redraw": True},
        {"name": "block", "goto": f"#/block/{a.post_height}"},
        {"name": "tx-cosmos", "goto": f"#/tx/{a.post_hash}"},
        {"name": "tx-evm", "goto": f"#/tx/{a.eth_hash}"},
        {"name": "job", "goto": f"#/job/{a.job_id}"},
        {"name": "job-rejected", "goto": f"#/job/{a.cheat_id}"},
        {"name": "address", "goto": f"#/address/{a.poster.bech32}"},
        {"name": "worker", "goto": f"#/worker/{a.worker.bech32}"},
        {"name": "oracle", "goto": f"#/oracle/{a.oracle.bech32}"},
        {"name": "network", "goto": "#/network"},
        {"name": "search-hex", "search": worker_hex},
        {"name": "search-bech32", "search": a.worker.bech32},
        {"name": "search-height", "search": str(a.post_height)},
        {"name": "search-job", "search": f"job {a.job_id}"},
        {"name": "search-evm-hash", "search": a.eth_hash},
    ]
    pages = drive(f"{a.rest}/explorer/", steps, tmp_path)

    for key, p in pages.items():
        assert p["ready"] != "error", f"{key}: {p['error']}"
        # reads on a phone: nothing wider than the screen
        assert p["overflow"] <= 1, f"{key} is {p['overflow']} px wider than the viewport"

    home = pages["home/laptop"]["text"]
    assert "Latest blocks" in home and "Latest transactions" in home
    # the latest blocks, newest first, down from the chain's height when the page loaded
    listed = [
        int(h)
        for h in re.findall(
            r"^(\d+)\t", home.split("Latest blocks")[1].split("Latest transactions")[0], re.M
        )
    ]
    shown = int(pages["home/laptop"]["height"])
    assert shown >= height_before and listed == list(range(shown, shown - 10, -1))
    assert "MsgPostJob" in home and "EVM" in home  # Cosmos and EVM txs
    assert "seconds: –" not in home  # the block time chart has figures
    live = pages["home-live/laptop"]
    assert live["live"].startswith("live · block") and int(live["height"]) > shown
    for figure in ("Supply", "Minted", "Open jobs", "Active workers", "Active oracles"):
        assert figure.upper() in home.upper()
    assert "Jobs posted and settled per block" in home and "Block time" in home

    block = pages["block/laptop"]["text"]
    assert f"Block {a.post_height}" in block and "MsgPostJob" in block

    tx = pages["tx-cosmos/laptop"]["text"]
    assert "success" in tx and "vcoin.jobs.v1.MsgPostJob" in tx and "JobPosted" in tx
    assert a.poster.bech32 in tx
    assert "The GPU marketplace" in tx  # the job's inline input, decoded

    evm = pages["tx-evm/laptop"]["text"]
    assert "EVM transaction" in evm and "success" in evm and a.eth_hash in evm
    assert "contract creation" in evm
    logs = evm.split("Logs")[1]
    assert "0x" + "00" * 31 + "07" in logs and "0x" + "00" * 31 + "2a" in logs

    job = pages["job/laptop"]["text"]
    timeline = job.split("Timeline")[1]
    for step in ("posted", "claimed", "submitted", "sampled", "attested", "settled"):
        assert step in timeline, f"no {step!r} in the job's timeline:\n{timeline}"
    assert timeline.index("posted") < timeline.index("claimed") < timeline.index("settled")
    assert "pass" in timeline and "99.00 %" in timeline
    head = job.split("Timeline")[0]
    assert "settled" in head  # the job's state
    assert "1 attestation(s): pass 10,000 VCN, fail 0 VCN of 10,000 VCN oracle stake" in head
    # its output is private (no "public": true in the spec): a hash, no link that would 401
    assert "private: the poster, its worker and the oracles read it with a signed token" in head

    addr = pages["address/laptop"]["text"]
    assert a.poster.bech32 in addr and "0x" + a.poster.address.hex() in addr
    assert f"#{a.job_id}" in addr.split("Jobs posted")[1]

    cheat = pages["job-rejected/laptop"]["text"]
    timeline = cheat.split("Timeline")[1]
    for step in ("posted", "claimed", "submitted", "sampled", "attested", "rejected", "refunded"):
        assert step in timeline, f"no {step!r} in the rejected job's timeline:\n{timeline}"
    assert "settled" not in timeline and "verdict fail" in timeline
    assert "settled" not in cheat.split("Timeline")[0]  # its progress ends "rejected"

    worker = pages["worker/laptop"]["text"]
    assert "Worker" in worker and "jailed until" in worker
    history = worker.split("Reputation history")[1].split("Slashes and jailing")[0]
    assert "success" in history and len(re.findall(r"→", history)) >= 2
    assert "CheatingPunished" in worker.split("Slashes and jailing")[1]
    oracle = pages["oracle/laptop"]["text"]
    assert f"#{a.job_id}" in oracle.split("Attestations")[1] and "pass" in oracle

    network = pages["network/laptop"]["text"]
    workers, oracles = network.split("Oracles (")
    assert a.worker.bech32 in workers and "jailed until" in workers
    assert a.oracle.bech32 in oracles and "active" in oracles

    for vp in ("laptop", "phone"):
        by_hex, by_bech = pages[f"search-hex/{vp}"], pages[f"search-bech32/{vp}"]
        assert by_hex["hash"] == by_bech["hash"] == f"#/address/{a.worker.bech32}"
        # the same page; the chain runs on between the two loads, so the figures that
        # move with it are left out (reputation with uptime, the balance with fees and
        # bonds), each still shown on both
        live = r"(Reputation|Balance)\s+[^\n]*\n"
        assert all(re.search(live, p["text"]) for p in (by_hex, by_bech))
        same = [re.sub(live, "", p["text"]) for p in (by_hex, by_bech)]
        assert same[0] == same[1] and worker_hex in same[0] and a.worker.bech32 in same[0]
        assert pages[f"search-height/{vp}"]["hash"] == f"#/block/{a.post_height}"
        assert pages[f"search-job/{vp}"]["hash"] == f"#/job/{a.job_id}"
        assert pages[f"search-evm-hash/{vp}"]["hash"] == f"#/tx/{a.eth_hash}"

    shots = artifacts_dir()
    for name in ("home", "job", "address"):
        for vp in ("laptop", "phone"):
            assert (shots / f"{name}-{vp}.png").stat().st_size > 5_000


def test_config_names_the_node_apis(activity: Activity) -> None:
    cfg = httpx.get(f"{activity.rest}/explorer/config.json").json()
    rpc_port = int(activity.node.cfg.rpc_laddr.rsplit(":", 1)[1])
    eth_port = int(activity.node.cfg.jsonrpc_laddr.rsplit(":", 1)[1])
    assert cfg["rpc"]["port"] == rpc_port and cfg["jsonrpc"]["port"] == eth_port
    # the page on the REST port may read the RPC and the JSON-RPC (CORS)
    origin = {"origin": activity.rest}
    for url in (
        f"http://{activity.node.cfg.rpc_laddr}/",
        f"http://{activity.node.cfg.jsonrpc_laddr}/",
    ):
        r = httpx.options(
            url,
            headers={
                **origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("settings", "rpc", "jsonrpc"),
    [
        ({}, {"host": "127.0.0.1", "port": 26657}, {"host": "127.0.0.1", "port": 8545}),
        # a wildcard host is reached at the host the page came from ("")
        (
            {"rpc_laddr": "0.0.0.0:7000", "jsonrpc_laddr": "[::]:7001"},
            {"host": "", "port": 7000},
            {"host": "", "port": 7001},
        ),
        # no JSON-RPC; under CometBFT the node RPC is CometBFT's
        (
            {"jsonrpc_laddr": "", "consensus": "cometbft", "comet_rpc": "http://10.0.0.5:26657/"},
            {"url": "http://10.0.0.5:26657"},
            None,
        ),
    ],
)
def test_config_follows_the_node_settings(
    settings: dict[str, Any], rpc: dict[str, Any], jsonrpc: dict[str, Any] | None
) -> None:
    node = SimpleNamespace(cfg=NodeConfig(**settings))
    cfg = explorer_config(cast(Node, node))
    assert cfg["rpc"] == rpc and cfg["jsonrpc"] == jsonrpc
