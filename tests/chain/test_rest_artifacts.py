"""The node's REST port serves the artifact store: workers and oracles fetch and upload there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from chain.artifact_auth import artifact_token
from chain.artifacts import ArtifactClient
from genesis.devnet import dev_key
from tests.support.nodes import inproc_node

ALICE = dev_key("alice")


def put_auth(digest: str) -> dict[str, str]:
    return {"authorization": f"VCoin-Artifact {artifact_token(ALICE, 'put', digest)}"}


def test_node_serves_artifacts_with_hash_and_size_checks(tmp_path: Path) -> None:
    with inproc_node(tmp_path / "home", artifact_max_bytes=1024) as node:
        base = f"http://{node.cfg.rest_laddr}"
        blob = b"job input " * 50
        digest = hashlib.sha256(blob).hexdigest()
        client = ArtifactClient(base, ALICE)
        try:
            assert client.upload_bytes(blob) == digest
            assert client.download_bytes(digest) == blob
        finally:
            client.close()
        head = httpx.head(f"{base}/artifacts/{digest}", headers=client.headers("get", digest))
        assert head.headers["content-length"] == str(len(blob))
        assert (node.cfg.artifact_dir).exists()

        zero = "0" * 64
        wrong = httpx.put(f"{base}/artifacts/{zero}", content=b"not that", headers=put_auth(zero))
        assert wrong.status_code == 422 and "hash" in wrong.text
        big = b"x" * 2048
        big_digest = hashlib.sha256(big).hexdigest()
        too_big = httpx.put(
            f"{base}/artifacts/{big_digest}", content=big, headers=put_auth(big_digest)
        )
        assert too_big.status_code == 413
        assert httpx.get(f"{base}/artifacts/{'1' * 64}").status_code == 404
        # the Cosmos REST routes still answer beside it
        assert httpx.get(f"{base}/cosmos/base/tendermint/v1beta1/node_info").status_code == 200
