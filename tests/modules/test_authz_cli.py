"""``vcoind tx/query authz`` against a real node process: alice lets bob post
and cancel jobs for her within 5 VCN; bob posts one through ``exec``, goes over
the limit and is refused, cancels (the refund is alice's); alice revokes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesis.devnet import dev_key
from tests.support.nodes import NodeProc, running_node

ALICE, BOB = dev_key("alice").bech32, dev_key("bob").bech32
VCN = 10**18


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    with running_node(tmp_path_factory.mktemp("authz-cli-node")) as n:
        yield n


def _post_file(tmp_path: Path, max_price: int) -> str:
    msg = {
        "@type": "/vcoin.jobs.v1.MsgPostJob",
        "poster": ALICE,
        "taskType": "text-generation",
        "model": "tiny-lm",
        "inlineInput": base64.b64encode(b"for alice, by bob").decode(),
        "maxPrice": str(max_price),
    }
    path = tmp_path / f"post-{max_price}.json"
    path.write_text(json.dumps([msg]))
    return str(path)


@pytest.mark.slow
def test_a_grantee_posts_and_cancels_for_its_granter_through_the_cli(
    node: NodeProc, tmp_path: Path
) -> None:
    node.ok("tx", "authz", "grant", "bob", "post-job", "--spend-limit", "5VCN",
            "--from", "alice", "-y")  # fmt: skip
    node.ok("tx", "authz", "grant", BOB, "cancel-job", "--from", "alice", "-y")
    grants = node.query("authz", "grants", "--granter", "alice")["grants"]
    assert {g["msg_type_url"] for g in grants} == {  # type: ignore[attr-defined]
        "/vcoin.jobs.v1.MsgPostJob",
        "/vcoin.jobs.v1.MsgCancelJob",
    }
    out = node.ok("tx", "authz", "exec", _post_file(tmp_path, 2 * VCN), "--from", "bob", "-y")
    job_id = [ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("job_id")][0]
    assert node.query("jobs", "show", job_id)["poster"] == ALICE
    assert "3 VCN left" in node.ok("query", "authz", "grant", "alice", "bob", "post-job")
    over = node.cli("tx", "authz", "exec", _post_file(tmp_path, 4 * VCN), "--from", "bob", "-y")
    assert over.returncode == 1 and "spend limit exceeded" in over.stderr
    cancel = tmp_path / "cancel.json"
    cancel.write_text(
        json.dumps({"@type": "/vcoin.jobs.v1.MsgCancelJob", "poster": ALICE, "jobId": job_id})
    )
    node.ok("tx", "authz", "exec", str(cancel), "--from", "bob", "-y")
    assert node.query("jobs", "show", job_id)["state"] == "cancelled"
    node.ok("tx", "authz", "revoke", "bob", "post-job", "--from", "alice", "-y")
    left = node.query("authz", "grants", "--grantee", "bob")["grants"]
    assert [g["msg_type_url"] for g in left] == ["/vcoin.jobs.v1.MsgCancelJob"]  # type: ignore[attr-defined]
    assert node.query("authz", "params") == {"max_exec_msgs": "8"}
