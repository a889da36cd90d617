"""``vcoind tx training`` and ``vcoind query training`` against a real node: a JSONL dataset
is uploaded and a training posted from the command line (its escrow taken), the rounds are
driven to the end by a worker and an oracle over the node's RPC, ``show`` prints every
round's shards, workers, payments and loss curves, and ``adapter`` writes a folder that
``peft.PeftModel.from_pretrained`` loads. Every refusal is answered before anything is
uploaded, naming what is wrong.

The node runs in this process (``inproc_node``, the devnet genesis and dev keys); the CLI
is ``app.cli.main.main``, the entry point of ``vcoind``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main
from app.cli.models_cmd import Progress, artifact_client
from app.cli.training_cmd import escrow_of, sparkline, upload_blobs
from chain.client import NodeClient
from genesis.devnet import dev_key
from tests.modules.training.driver import Market, publish_devnet_models
from tests.support.cli import Cli as SupportCli
from tests.support.nodes import free_port, inproc_node

VCN = 10**18
RECORDS = [{"text": f"key {i:02d} -> value {(i * 7) % 23:02d}"} for i in range(12)]


class Cli(SupportCli):
    def __init__(self, home: Path, rpc: str, rest: str, capsys: pytest.CaptureFixture[str]):
        super().__init__(home, rpc, capsys)
        self.rest = rest


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    home = tmp_path_factory.mktemp("training-cli")
    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    doc = json.loads((home / "config" / "genesis.json").read_text())
    with inproc_node(home, doc, block_time_ms=100) as n:
        yield home, f"http://{n.cfg.rpc_laddr}", f"http://{n.cfg.rest_laddr}"


@pytest.fixture
def cli(
    node: tuple[Path, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    monkeypatch.setenv("VCOIN_ARTIFACTS", node[2])  # the store's URL, as --artifacts gives it
    return Cli(*node, capsys)


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "kv.jsonl"
    path.write_bytes(jsonl(RECORDS))
    return path


def post_args(cli: Cli, dataset: Path, *extra: str, **over: str) -> list[str]:
    flags = {
        "--model": "tiny-lm",
        "--dataset": str(dataset),
        "--shards": "4",
        "--rounds": "2",
        "--steps": "2",
        "--rank": "4",
        "--alpha": "8",
        "--targets": "q_proj,v_proj",
        "--lr": "1e-3",
        "--batch-size": "2",
        "--seed": "7",
        "--max-length": "32",
        "--price-per-shard": "1VCN",
        "--aggregate-price": "0.1VCN",
    }
    flags.update({f"--{k.replace('_', '-')}": v for k, v in over.items()})
    out = ["tx", "training", "post", "--artifacts", cli.rest]
    for k, v in flags.items():
        out += [k, v]
    return [*out, *extra, "--from", "alice", "-y"]


def stored(cli: Cli) -> set[str]:
    root = cli.home / "data" / "artifacts"
    return {p.name for p in root.rglob("*") if p.is_file() and len(p.name) == 64}


# -- refusals ------------------------------------------------------------------------------
def test_a_missing_file_and_a_bad_line_are_named_and_nothing_is_uploaded(
    cli: Cli, tmp_path: Path
) -> None:
    before = stored(cli)
    rc, _, err = cli.run(*post_args(cli, tmp_path / "nope.jsonl"))
    assert rc == 1 and "nope.jsonl: no such file" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl(RECORDS[:2]) + b'{"text": "three"\n' + jsonl(RECORDS[3:]))
    rc, _, err = cli.run(*post_args(cli, bad))
    assert rc == 1 and "line 3" in err and "not JSON" in err, err
    bad.write_bytes(jsonl(RECORDS[:4]) + b'{"prompt": "no completion"}\n')
    rc, _, err = cli.run(*post_args(cli, bad))
    assert rc == 1 and "line 5" in err, err
    bad.write_bytes(jsonl(RECORDS[:1]) + b"\n" + jsonl(RECORDS[1:]))
    rc, _, err = cli.run(*post_args(cli, bad))
    assert rc == 1 and "line 2 is empty" in err, err
    assert stored(cli) == before


def test_amounts_and_a_config_the_chain_would_refuse_are_refused_before_any_upload(
    cli: Cli, dataset: Path
) -> None:
    before, alice = stored(cli), cli.balance("alice")
    rc, _, err = cli.run(*post_args(cli, dataset, price_per_shard="1.0000000000000000001VCN"))
    assert rc == 1 and "--price-per-shard" in err and "at most 18 decimals" in err, err
    rc, _, err = cli.run(*post_args(cli, dataset, aggregate_price="1BTC"))
    assert rc == 1 and "--aggregate-price" in err, err
    rc, _, err = cli.run(*post_args(cli, dataset, shards="13"))
    assert rc == 1 and "--shards 13 is more than the dataset's 12 records" in err, err
    rc, _, err = cli.run(*post_args(cli, dataset, rank="0"))
    assert rc == 1 and "--rank must be at least 1" in err, err
    rc, _, err = cli.run(*post_args(cli, dataset, lr="1e-9"))
    assert rc == 1 and "--lr" in err, err
    # past the runtime's limits: the chain's own refusal, from its simulation
    rc, _, err = cli.run(*post_args(cli, dataset, rank="65"))
    assert rc == 1 and "the chain would refuse this training" in err and "rank" in err, err
    assert "nothing was uploaded" in err
    rc, _, err = cli.run(*post_args(cli, dataset, model="all-minilm-l6-v2"))
    assert rc == 1 and "does not serve lora-train" in err, err
    rc, _, err = cli.run(*post_args(cli, dataset, price_per_shard="10000000VCN"))
    assert rc == 1 and "the training escrows 80000000.2 VCN" in err, err
    assert stored(cli) == before and cli.balance("alice") == alice


def test_a_node_that_is_down_is_named(cli: Cli, dataset: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    rc = main(["--home", str(cli.home), "--node", down, *post_args(cli, dataset)])
    err = cli.capsys.readouterr().err
    assert rc == 1 and f"cannot reach the node at {down}" in err, err
    rc = main(["--home", str(cli.home), "--node", down, "query", "training", "show", "1"])
    err = cli.capsys.readouterr().err
    assert rc == 1 and f"cannot reach the node at {down}" in err, err


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_upload_shows_its_progress_on_a_terminal_and_skips_a_stored_blob(
    cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "big.jsonl"
    data.write_bytes(
        jsonl([{"text": f"{tmp_path.name} {i}" * 40} for i in range(4000)])
    )  # 5 MiB: 1 MiB chunks
    digest, size = hashlib.sha256(data.read_bytes()).hexdigest(), data.stat().st_size
    with artifact_client(cli.rest, dev_key("alice")) as client:
        tty = Tty()
        assert upload_blobs(client, [(digest, data)], Progress(size, "big", tty, False)) == 0
        shown = tty.getvalue()
        assert shown.startswith("\ruploading big: ") and shown.endswith("(100 %)\n"), shown
        assert shown.count("\r") > 2  # rewritten in place as the chunks go
        assert digest in stored(cli)
        tty = Tty()
        assert upload_blobs(client, [(digest, data)], Progress(size, "big", tty, False)) == 1
        assert tty.getvalue().endswith("(100 %)\n")


def test_the_sparkline_follows_the_curve() -> None:
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert sparkline([1.0, 1.0]) == "▁▁"
    assert sparkline([]) == ""
    assert escrow_of(3, 4, VCN, VCN // 10) == 3 * (4 * VCN + VCN // 10)


# -- the whole flow ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def market(
    node: tuple[Path, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Market]:
    home, rpc, rest = node
    work = tmp_path_factory.mktemp("training-market")
    publish_devnet_models(rest, work / "published")
    client = NodeClient(rpc)
    # shard results settle without a re-run (no sampling, no canaries); an aggregate is
    # always re-computed by the oracle all the same
    verification = {"base_sample_bps": 0, "new_worker_sample_bps": 0, "max_sample_bps": 1,
                    "low_rep_factor_bps": 0, "canary_rate_bps": 0, "plant_rate_bps": 0,
                    "challenge_window_blocks": 1}  # fmt: skip
    assert main(["--home", str(home), "--node", rpc, "tx", "params", "update", "verification",
                 json.dumps(verification), "--from", "platform", "-y"]) == 0  # fmt: skip
    m = Market(client, rest, work, price_floor=VCN // 2)
    try:
        yield m
    finally:
        m.close()
        client.close()


def test_post_show_and_download_the_adapter_that_peft_loads(
    cli: Cli, market: Market, dataset: Path, tmp_path: Path
) -> None:
    alice = cli.balance("alice")
    out = cli.ok(*post_args(cli, dataset))
    (tid,) = [int(ln.split(":")[1]) for ln in out.splitlines() if ln.startswith("training_id")]
    assert "escrow: 8.2 VCN = 2 round(s) × (4 shard(s) × 1 + 0.1) VCN" in out, out
    escrow = escrow_of(2, 4, VCN, VCN // 10)
    rec = cli.query("training", "show", str(tid))
    spent = alice - cli.balance("alice")
    assert escrow < spent < escrow + VCN  # the escrow and the tx fee
    (rnd,) = rec["rounds_detail"]
    in_jobs = sum(
        int(cli.query("jobs", "show", str(s["job_id"]))["max_price"]) for s in rnd["shards"]
    )
    assert rec["state"] == "running" and int(rec["escrow_left"]) + in_jobs == escrow
    assert rec["dataset"] in stored(cli) and rec["manifest"] in stored(cli)
    assert [s["shard"] for s in rnd["shards"]] == [0, 1, 2, 3]
    assert sorted(s["weight"] for s in rnd["shards"]) == [3, 3, 3, 3]
    text = cli.ok("query", "training", "show", str(tid))
    assert f"training {tid}: running" in text and "round 0: global in (B = 0)" in text
    for s in rnd["shards"]:
        assert f"shard {s['shard']:<3} job {s['job_id']:<5} open" in text, text
    # the same dataset again: nothing new to upload
    again = cli.run(*post_args(cli, dataset))
    assert again[0] == 0 and "0 uploaded, 2 already in the store" in again[2], again[2]
    second = [int(ln.split(":")[1]) for ln in again[1].splitlines() if ln.startswith("training_id")]
    assert cli.ok("tx", "training", "cancel", str(second[0]), "--from", "alice", "-y")
    assert cli.query("training", "show", str(second[0]))["state"] == "cancelled"

    final = market.run_training(tid)
    assert final["state"] == "completed", final
    shown = cli.query("training", "show", str(tid))
    assert [r["round"] for r in shown["rounds_detail"]] == [0, 1]
    paid = 0
    for r in shown["rounds_detail"]:
        assert r["global_out"] and r["aggregate_state"] == "settled"
        for s in r["shards"]:
            assert s["state"] == "accepted" and s["worker"] == dev_key("worker1").bech32
            assert s["job_state"] == "settled" and int(s["paid"]) > 0
            losses = s["train_losses"]
            assert len(losses) == 2 and all(v > 0 for v in losses), s
            job = cli.query("jobs", "show", str(s["job_id"]))
            assert int(s["paid"]) == int(job["paid"])
            paid += int(s["paid"])
        paid += int(r["aggregate_paid"])
    assert int(shown["paid_total"]) == paid > 0
    assert shown["rounds_detail"][1]["global_in"] == shown["rounds_detail"][0]["global_out"]
    assert shown["adapter"] == shown["rounds_detail"][1]["global_out"]
    text = cli.ok("query", "training", "show", str(tid))
    assert f"training {tid}: completed" in text and f"adapter   {shown['adapter']}" in text
    assert text.count("loss ") >= 2 * 4 and "→" in text, text
    assert f"worker {dev_key('worker1').bech32}" in text

    folder = tmp_path / "adapter"
    out = cli.ok("query", "training", "adapter", str(tid), "--out", str(folder),
                 "--artifacts", cli.rest)  # fmt: skip
    assert "sha256 checked" in out and "PeftModel.from_pretrained" in out
    assert sorted(p.name for p in folder.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    peft_loads(market, folder)


def peft_loads(market: Market, folder: Path) -> None:
    """peft loads the folder onto tiny-lm, and the adapter changes the model's logits."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from compute.runtime.models import materialize

    (manifest_digest,) = [
        p.name
        for p in market.models.iterdir()
        if p.name == market.client.query("jobs", "model", {"id": "tiny-lm"})["weights_sha256"]
    ]
    _, model_dir = materialize(market.models, manifest_digest, market.work / "scratch")
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ids = torch.tensor([[1, 2, 3, 4]])
    before = base(ids).logits.detach().clone()
    model = PeftModel.from_pretrained(base, str(folder))
    after = model(ids).logits.detach()
    assert not torch.equal(before, after)


def test_show_and_adapter_of_an_unknown_or_running_training_say_so(
    cli: Cli, market: Market, dataset: Path, tmp_path: Path
) -> None:
    rc, _, err = cli.run("query", "training", "show", "999")
    assert rc == 1 and "training 999" in err, err
    out = cli.ok(*post_args(cli, dataset, rounds="1"))
    (tid,) = [int(ln.split(":")[1]) for ln in out.splitlines() if ln.startswith("training_id")]
    rc, _, err = cli.run("query", "training", "adapter", str(tid), "--out", str(tmp_path / "a"))
    assert rc == 1 and "it has no final adapter yet" in err, err
    assert not (tmp_path / "a").exists()
    cli.ok("tx", "training", "cancel", str(tid), "--from", "alice", "-y")
