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
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main
from app.cli.training_cmd import escrow_of, sparkline
from tests.support.nodes import free_port, inproc_node

VCN = 10**18
RECORDS = [{"text": f"key {i:02d} -> value {(i * 7) % 23:02d}"} for i in range(12)]


class Cli:
    def __init__(self, home: Path, rpc: str, rest: str, capsys: pytest.CaptureFixture[str]):
        self.home, self.rpc, self.rest, self.capsys = home, rpc, rest, capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main(["--home", str(self.home), "--node", self.rpc, *args])
        out = self.capsys.readouterr()
        return rc, out.out, out.err

    def ok(self, *args: str) -> str:
        rc, out, err = self.run(*args)
        assert rc == 0, f"{args}: {out}\n{err}"
        return out

    def query(self, *args: str) -> Any:
        return json.loads(self.ok("-o", "json", "query", *args))

    def balance(self, who: str) -> int:
        return int(self.query("balance", who)["amount"])


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    home = tmp_path_factory.mktemp("training-cli")
    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    doc = json.loads((home / "config" / "genesis.json").read_text())
    with inproc_node(home, doc, block_time_ms=100) as n:
        yield home, f"http://{n.cfg.rpc_laddr}", f"http://{n.cfg.rest_laddr}"


@pytest.fixture
def cli(node: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]) -> Cli:
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


def test_the_sparkline_follows_the_curve() -> None:
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert sparkline([1.0, 1.0]) == "▁▁"
    assert sparkline([]) == ""
    assert escrow_of(3, 4, VCN, VCN // 10) == 3 * (4 * VCN + VCN // 10)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()
