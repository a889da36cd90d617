"""``vcoind tx authz`` with the training short names against a node in this process: alice
grants bob ``post-training`` (a spend limit) and ``cancel-training`` by their short names;
bob posts a training for her with ``exec`` (the CLI prints its training id, the escrow comes
off the grant) and cancels it (the escrow back to alice); past the limit exec is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.main import main
from genesis.devnet import dev_key
from tests.support.cli import Cli
from tests.support.nodes import inproc_node

ALICE, BOB = dev_key("alice").bech32, dev_key("bob").bech32
VCN = 10**18
POST_URL = "/vcoin.training.v1.MsgPostTraining"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("authz-training-cli")
    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    doc = json.loads((home / "config" / "genesis.json").read_text())
    with inproc_node(home, doc, block_time_ms=100) as n:
        yield home, f"http://{n.cfg.rpc_laddr}"


def post_file(tmp_path: Path, shards: int) -> str:
    msg = {
        "@type": POST_URL, "poster": ALICE, "model": "tiny-lm", "dataset": "d" * 64,
        "manifest": "e" * 64, "records": "8", "shards": shards, "rounds": 1, "steps": 2,
        "rank": 4, "alpha": 8, "targetModules": ["q_proj"], "lrMicro": "1000",
        "batchSize": 2, "seed": "1", "maxLength": 32, "aggregation": "ffa-mean",
        "pricePerShard": str(VCN), "aggregatePrice": str(VCN),
    }  # fmt: skip
    path = tmp_path / f"post-{shards}.json"
    path.write_text(json.dumps([msg]))
    return str(path)


def test_training_grants_by_short_name_through_the_cli(
    node: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(*node, capsys)
    cli.ok("tx", "authz", "grant", "bob", "post-training", "--spend-limit", "5VCN",
           "--from", "alice", "-y")  # fmt: skip
    cli.ok("tx", "authz", "grant", BOB, "cancel-training", "--from", "alice", "-y")
    grants = cli.query("authz", "grants", "--granter", "alice")["grants"]
    assert {g["msg_type_url"] for g in grants} == {POST_URL, "/vcoin.training.v1.MsgCancelTraining"}
    out = cli.ok("tx", "authz", "exec", post_file(tmp_path, 2), "--from", "bob", "-y")
    (tid,) = [ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("training_id")]
    assert "2 VCN left" in cli.ok("query", "authz", "grant", "alice", "bob", "post-training")
    rc, _, err = cli.run("tx", "authz", "exec", post_file(tmp_path, 3), "--from", "bob", "-y")
    assert rc == 1 and "spend limit exceeded" in err, err  # 4 VCN past the 2 left
    before = int(cli.query("balance", "alice")["amount"])
    cancel = tmp_path / "cancel.json"
    cancel.write_text(json.dumps({"@type": "/vcoin.training.v1.MsgCancelTraining",
                                  "poster": ALICE, "trainingId": tid}))  # fmt: skip
    cli.ok("tx", "authz", "exec", str(cancel), "--from", "bob", "-y")
    assert int(cli.query("balance", "alice")["amount"]) == before + 3 * VCN
