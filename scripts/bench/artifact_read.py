"""What the artifact store's read rules add to a GET, on a chain holding 10,000 jobs.

``.venv/bin/python scripts/bench/artifact_read.py [--jobs 10000] [--reads 300]``

A node in process (devnet genesis, instant blocks) gets ``--jobs`` jobs posted by
alice (64 per tx), then one more whose input bob uploaded. It then times, over real
HTTP with keep-alive, the median and p99 of:

* ``model``: an anonymous GET of a registered model's file (public; the rules answer
  from a cache), the baseline;
* ``private``: alice's signed GET of her job's input (not hers to upload: the rules
  find the job through the node's tx index and read it, then match the poster);
* ``public-job``: an anonymous GET of a public job's input (the same lookup, then the
  job's spec);
* ``token``: making one token on the client side.

It prints each figure and ``private`` less ``model``: the latency the rules add.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chain.artifact_auth import artifact_token  # noqa: E402
from chain.artifacts import ArtifactClient  # noqa: E402
from chain.client import NodeClient  # noqa: E402
from genesis.devnet import dev_key, genesis_doc  # noqa: E402
from modules.jobs import msgs as jm  # noqa: E402
from tests.support.nodes import inproc_node  # noqa: E402

VCN = 10**18
ALICE, BOB, PLATFORM = dev_key("alice"), dev_key("bob"), dev_key("platform")
FILE = b"weights " * 512
MANIFEST = json.dumps(
    {
        "format": "vcoin-model/1",
        "name": "bench",
        "kind": "causal-lm",
        "files": {"model.safetensors": {"sha256": hashlib.sha256(FILE).hexdigest(), "size": 4096}},
    }
).encode()


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def post(client: NodeClient, digests: list[str], spec: str = "") -> None:
    msgs = [
        jm.MsgPostJob(
            poster=ALICE.bech32,
            task_type="text-generation",
            model="tiny-lm",
            input_hash=d,
            spec=spec,
            max_price=str(VCN // 100),
        )
        for d in digests
    ]
    client.send_tx(ALICE, msgs, gas=200_000 * len(msgs))


def timed(fn: object, n: int) -> tuple[float, float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(0.99 * (len(out) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--reads", type=int, default=300)
    args = ap.parse_args()
    g = genesis_doc()
    g["app_state"]["jobs"]["models"].append(
        {
            "id": "bench-model",
            "task_types": ["text-generation"],
            "weights_sha256": sha(MANIFEST),
            "config_sha256": sha(b"{}"),
            "min_gpu_memory_mib": 0,
            "registered_height": 0,
            "description": "",
        }
    )
    with tempfile.TemporaryDirectory() as tmp, inproc_node(Path(tmp), g) as node:
        rest = f"http://{node.cfg.rest_laddr}"
        client = NodeClient(f"http://{node.cfg.rpc_laddr}", timeout=120)
        t0 = time.monotonic()
        for start in range(0, args.jobs, 64):
            n = min(64, args.jobs - start)
            post(client, [sha(f"bench input {start + i}".encode()) for i in range(n)])
        posted_s = time.monotonic() - t0
        private, public = b"bob's upload for alice's job", b"a public job's input"
        with ArtifactClient(rest, BOB) as b:
            b.upload_bytes(private)
            b.upload_bytes(public)
        post(client, [sha(private)])
        post(client, [sha(public)], '{"public": true}')
        with ArtifactClient(rest, PLATFORM) as p:
            p.upload_bytes(MANIFEST)
            p.upload_bytes(FILE)
        queued = client.query("jobs", "jobs", {"state": "queued", "limit": 1})
        assert queued["jobs"], "no jobs were posted"
        http = httpx.Client(timeout=30)

        def get(digest: str, key: object = None) -> None:
            params = {}
            if key is not None:
                params["token"] = artifact_token(key, "get", digest)  # type: ignore[arg-type]
            r = http.get(f"{rest}/artifacts/{digest}", params=params)
            assert r.status_code == 200, r.text

        for _ in range(20):  # warm the connection and the caches
            get(sha(FILE))
            get(sha(private), ALICE)
        model = timed(lambda: get(sha(FILE)), args.reads)
        priv = timed(lambda: get(sha(private), ALICE), args.reads)
        pub = timed(lambda: get(sha(public)), args.reads)
        tok = timed(lambda: artifact_token(ALICE, "get", sha(private)), args.reads)
        print(f"jobs on chain: {args.jobs + 2} (posted in {posted_s:.0f} s)")
        for name, (med, p99) in (
            ("model (public, cached)", model),
            ("private (alice's token)", priv),
            ("public-job (anonymous)", pub),
            ("token (client side)", tok),
        ):
            print(f"{name:26s} median {med:6.2f} ms  p99 {p99:6.2f} ms")
        print(f"added by the read rules: median {priv[0] - model[0]:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
