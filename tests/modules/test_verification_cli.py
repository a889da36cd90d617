"""``vcoind tx verification`` and ``vcoind query verification`` against a real node: an
operator commits and reveals a canary and attests a checked result from the command
line alone, reads where each job stands, and a bad argument is refused saying which.

The node runs in this process (``inproc_node``, the devnet genesis and dev keys); the
CLI is ``app.cli.main.main``, the entry point of ``vcoind``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from app.cli.main import main
from tests.support.cli import Cli
from tests.support.nodes import inproc_node

SALT = "5a" * 16
SEED = hashlib.sha256(b"verification-cli oracle1").digest()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("verification-cli")
    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    doc = json.loads((home / "config" / "genesis.json").read_text())
    with inproc_node(home, doc, block_time_ms=100) as n:
        yield home, f"http://{n.cfg.rpc_laddr}"


@pytest.fixture
def cli(node: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(node[0], node[1], capsys)


def verification_params(cli: Cli, sample_bps: int) -> None:
    p = {
        "base_sample_bps": sample_bps,
        "low_rep_factor_bps": 0,
        "new_worker_sample_bps": sample_bps,
        "max_sample_bps": max(sample_bps, 1),
        "cost_share_bps": 0,  # no value term: the rate is exactly the one set here
        "plant_rate_bps": 0,
        "challenge_window_blocks": 1_000,
    }
    cli.tx("params", "update", "verification", json.dumps(p), "--from", "platform")


def posted_job(cli: Cli) -> str:
    out = cli.tx("jobs", "post", "tiny-lm", "--task-type", "text-generation",
                 "--input", "hello", "--max-price", "2VCN", "--from", "alice")  # fmt: skip
    job_id = [ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("job_id")][0]
    return job_id


def claim_and_submit(cli: Cli, job_id: str, output: str) -> None:
    cli.tx("jobs", "claim", job_id, "--from", "worker1")
    cli.tx("jobs", "submit", job_id, "--output-hash", output, "--compute-units", "7",
           "--image-digest", "sha256:" + "00" * 32, "--from", "worker1")  # fmt: skip


@pytest.fixture(scope="module")
def bonded(node: tuple[Path, str]) -> bool:
    """oracle1 bonded as an oracle (its ed25519 key from SEED), worker1 as a worker."""
    home, rpc = node

    def run(*args: str) -> None:
        assert main(["--home", str(home), "--node", rpc, "tx", *args, "-y"]) == 0, args

    pub = bytes(SigningKey(SEED).verify_key).hex()
    run("staking", "bond", "oracle", "10000VCN", "--ed25519-pubkey", pub, "--from", "oracle1")
    run("staking", "bond", "worker", "1000VCN", "--from", "worker1")
    run("jobs", "register-worker", "--models", "tiny-lm", "--task-types", "text-generation",
        "--price-floor", "1VCN", "--max-concurrent", "4", "--from", "worker1")  # fmt: skip
    return True


def test_a_canary_is_committed_shown_and_revealed_from_the_cli(cli: Cli, bonded: bool) -> None:
    verification_params(cli, 0)
    expected = hashlib.sha256(b"the canary's expected output").hexdigest()
    job_id = posted_job(cli)
    flags = ("--expected-output-hash", expected, "--salt", SALT, "--from", "oracle1")
    out = cli.tx("verification", "commit-canary", job_id, *flags)
    (commitment,) = [ln.split(": ")[1] for ln in out.splitlines() if ln.startswith("commitment")]
    shown = cli.query("verification", "canary", commitment)
    assert shown["oracle"] and int(shown["height"]) > 0
    claim_and_submit(cli, job_id, expected)
    # alice posted the job: her key proves the reveal comes from whoever made it a canary
    out = cli.tx("verification", "reveal-canary", job_id, *flags, "--controller", "alice")
    assert "matched: true" in out.splitlines()
    assert cli.query("jobs", "show", job_id)["state"] == "settled"


def test_a_canary_committed_before_its_post_is_revealed_from_the_cli(
    cli: Cli, bonded: bool
) -> None:
    verification_params(cli, 0)
    expected = hashlib.sha256(b"a canary committed before its post").hexdigest()
    inp = hashlib.sha256(b"hello").hexdigest()  # what posted_job posts, inline
    flags = ("--expected-output-hash", expected, "--salt", SALT, "--from", "oracle1")
    out = cli.tx("verification", "commit-canary", "--poster", "alice", "--input-hash", inp, *flags)
    (commitment,) = [ln.split(": ")[1] for ln in out.splitlines() if ln.startswith("commitment")]
    assert int(cli.query("verification", "canary", commitment)["height"]) > 0
    job_id = posted_job(cli)
    assert cli.query("jobs", "show", job_id)["input_hash"] == inp
    claim_and_submit(cli, job_id, expected)  # right (a wrong one would jail worker1 here)
    # the CLI finds which commitment is on chain and signs the reveal over it
    out = cli.tx("verification", "reveal-canary", job_id, *flags, "--controller", "alice")
    assert "matched: true" in out.splitlines()
    assert cli.query("jobs", "show", job_id)["state"] == "settled"
    rc, _, err = cli.run("query", "verification", "canary", commitment)
    assert rc == 1 and "no such commitment" in err, err  # opened: gone


@pytest.mark.parametrize(
    "args",
    [
        ("1", "--poster", "alice", "--input-hash", "ab" * 32),
        ("--poster", "alice"),
        ("--input-hash", "ab" * 32),
        (),
    ],
    ids=["id-and-post", "poster-only", "input-only", "neither"],
)
def test_commit_canary_takes_the_id_or_the_post_not_both(cli: Cli, args: tuple[str, ...]) -> None:
    flags = ("--expected-output-hash", "ab" * 32, "--salt", SALT, "--from", "oracle1", "-y")
    rc, _, err = cli.run("tx", "verification", "commit-canary", *args, *flags)
    assert rc == 1 and "the job id, or --poster and --input-hash" in err, err


def test_a_checked_result_is_listed_attested_and_its_status_shown(
    cli: Cli, bonded: bool, tmp_path: Path
) -> None:
    verification_params(cli, 10_000)
    output = hashlib.sha256(b"an answer").hexdigest()
    job_id = posted_job(cli)
    claim_and_submit(cli, job_id, output)
    # the draw is made from the hash of a block after the submission
    deadline = time.monotonic() + 20
    while job_id not in [
        str(p["job_id"]) for p in cli.query("verification", "checking")["pending"]
    ]:
        assert time.monotonic() < deadline, cli.query("verification", "status", job_id)
        time.sleep(0.1)
    text = cli.ok("query", "verification", "checking")
    assert any(ln.split()[0] == job_id for ln in text.splitlines())
    seed_file = tmp_path / "oracle1.ed25519"
    seed_file.write_text(SEED.hex() + "\n")
    evidence = hashlib.sha256(b"evidence").hexdigest()
    cli.tx("verification", "attest", job_id, "pass", "--similarity-bps", "9800",
           "--evidence-hash", evidence, "--ed25519-key-file", str(seed_file),
           "--from", "oracle1")  # fmt: skip
    status = cli.query("verification", "status", job_id)
    (att,) = status["attestations"]
    assert (att["verdict"], int(att["similarity_bps"])) == ("pass", 9800)
    text = cli.ok("query", "verification", "status", job_id)
    assert f"job {job_id}: " in text and ": pass (9800 bps, stake " in text


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("attest", "1", "pass", "--similarity-bps", "10001"), "--similarity-bps is 0..10000"),
        (("attest", "1", "pass", "--similarity-bps", "-1"), "--similarity-bps is 0..10000"),
        (
            ("commit-canary", "1", "--expected-output-hash", "ab", "--salt", SALT),
            "--expected-output-hash",
        ),  # fmt: skip
        (("commit-canary", "1", "--expected-output-hash", "ab" * 32, "--salt", "zz"), "--salt"),
        (("commit-canary", "1", "--expected-output-hash", "ab" * 32, "--salt", "ab"), "salt"),
    ],
    ids=["similarity-over", "similarity-under", "short-hash", "salt-not-hex", "salt-too-short"],
)
def test_bad_arguments_are_refused_naming_the_flag(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    seed_file = tmp_path / "seed"
    seed_file.write_text(SEED.hex())
    extra = ("--evidence-hash", "cd" * 32, "--ed25519-key-file", str(seed_file))
    full = (*args, *(extra if args[0] == "attest" else ()), "--from", "oracle1", "-y")
    rc, _, err = cli.run("tx", "verification", *full)
    assert rc == 1 and err.startswith("error: ") and error in err, err


def test_risk_names_the_floor_of_the_task_type_asked(cli: Cli, bonded: bool) -> None:
    verification_params(cli, 2_500)
    raised = json.dumps({"max_sample_bps": 5_000, "new_worker_sample_bps": 0})
    cli.tx("params", "update", "verification", raised, "--from", "platform")
    out = cli.ok("query", "verification", "risk", "worker1", "2VCN", "--task", "embedding")
    # 42.12 % sampled + 5 % canaries: 45.01 % per faked result, the default floor
    assert "; embedding" in out and "sample rate        42.12 % (detection)" in out, out
    assert "detection / fake   45.01 %" in out, out
    out = cli.ok("query", "verification", "risk", "worker1", "2VCN")
    assert "; any task type" in out and "sample rate        25.00 % (base)" in out, out
    # sampled text: its check is a full re-run, so the floor is not drawn
    sampled = '{"params": {"temperature": 0.7}}'
    out = cli.ok("query", "verification", "risk", "worker1", "2VCN",
                 "--task", "text-generation", "--spec", sampled)  # fmt: skip
    assert "sample rate        25.00 % (base)" in out, out
    out = cli.ok("query", "verification", "risk", "worker1", "2VCN", "--task", "text-generation")
    assert "sample rate        42.12 % (detection)" in out, out
    rc, _, err = cli.run("query", "verification", "risk", "worker1", "2VCN", "--spec", "[1]")
    assert rc == 1 and "spec must be a job spec" in err, err


def test_sample_rate_prints_a_workers_chance_of_a_check(cli: Cli, bonded: bool) -> None:
    verification_params(cli, 2_500)
    out = cli.ok("query", "verification", "sample-rate", "worker1")
    assert out.strip().endswith("; checked 25.0%"), out
