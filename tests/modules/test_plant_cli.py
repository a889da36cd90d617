"""A plant by hand through ``vcoind`` against a real node process: commit with
``--planted`` before the claim, a wrong result from the planter's worker, a pass from
an oracle that did not check it, and ``reveal-canary --planted --controller worker1``
(signed by the plant's worker key) once the result has its verdict, which names how
many oracles were caught and punishes the one that was."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from tests.support.nodes import NodeProc, running_node

WEIGHTS = hashlib.sha256(b"plant cli weights").hexdigest()
RIGHT = hashlib.sha256(b"the right answer").hexdigest()
WRONG = hashlib.sha256(b"a planted wrong answer").hexdigest()
SALT = "3c" * 16


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    with running_node(tmp_path_factory.mktemp("plant-cli-node")) as n:
        yield n


def wait_state(node: NodeProc, job_id: str, want: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.query("jobs", "show", job_id)["state"] == want:
            return
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} never reached {want}")


@pytest.mark.slow
def test_a_plant_by_hand_catches_the_oracle_that_passed_it(node: NodeProc, tmp_path: Path) -> None:
    # a window of 10 blocks (about 10 s): the attest and the early reveal below, each a
    # vcoind process, land inside it even on a loaded machine (3 blocks did not, in CI)
    every = '{"base_sample_bps": 10000, "max_sample_bps": 10000, "attest_window_blocks": 10}'
    node.ok("tx", "params", "update", "verification", every, "--from", "platform", "-y")
    node.ok("tx", "jobs", "register-model", "plant-lm", "--task-types", "text-generation",
       "--weights-sha256", WEIGHTS, "--config-sha256", WEIGHTS,
       "--from", "platform", "-y")  # fmt: skip
    lazy_key = SigningKey.generate()
    key_file = tmp_path / "lazy.ed25519"
    key_file.write_text(bytes(lazy_key).hex())
    for name, ed in (("oracle1", SigningKey.generate()), ("oracle2", lazy_key)):
        node.ok("tx", "staking", "bond", "oracle", "10000VCN", "--ed25519-pubkey",
           bytes(ed.verify_key).hex(), "--from", name, "-y")  # fmt: skip
    node.ok("tx", "staking", "bond", "worker", "1000VCN", "--from", "worker1", "-y")
    node.ok("tx", "jobs", "register-worker", "--models", "plant-lm", "--task-types",
       "text-generation", "--price-floor", "1VCN", "--from", "worker1", "-y")  # fmt: skip
    out = node.ok("tx", "jobs", "post", "plant-lm", "--task-type", "text-generation",
             "--input", "plant me", "--max-price", "2VCN", "--from", "alice", "-y")  # fmt: skip
    job_id = [ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("job_id")][0]

    # oracle1 plants: commits to the right answer, then its worker submits a wrong one
    node.ok("tx", "verification", "commit-canary", job_id, "--expected-output-hash", RIGHT,
       "--salt", SALT, "--planted", "--from", "oracle1", "-y")  # fmt: skip
    node.ok("tx", "jobs", "claim", job_id, "--from", "worker1", "-y")
    node.ok("tx", "jobs", "submit", job_id, "--output-hash", WRONG, "--compute-units", "1",
       "--image-digest", "sha256:" + "00" * 32, "--from", "worker1", "-y")  # fmt: skip
    wait_state(node, job_id, "checking")
    # oracle2 passes it without checking
    node.ok("tx", "verification", "attest", job_id, "pass", "--similarity-bps", "10000",
       "--evidence-hash", "ab" * 32, "--ed25519-key-file", str(key_file),
       "--from", "oracle2", "-y")  # fmt: skip
    early = node.cli("tx", "verification", "reveal-canary", job_id, "--expected-output-hash",
                     RIGHT, "--salt", SALT, "--planted", "--controller", "worker1",
                     "--from", "oracle1", "-y")  # fmt: skip
    assert early.returncode == 1 and "once its result has a verdict" in early.stderr
    wait_state(node, job_id, "settled")  # the window: oracle2's pass stood

    # a plant is revealed with its worker's key: the poster's (alice) is refused
    wrong = node.cli("tx", "verification", "reveal-canary", job_id, "--expected-output-hash",
                     RIGHT, "--salt", SALT, "--planted", "--controller", "alice",
                     "--from", "oracle1", "-y")  # fmt: skip
    assert wrong.returncode == 1 and "does not verify with the key of job" in wrong.stderr
    assert "'s worker" in wrong.stderr
    assert node.query("reputation", "score", "oracle2")["penalties_bps"] == 0

    # the plant's reveal names one oracle caught: oracle2, punished and jailed
    out = node.ok("tx", "verification", "reveal-canary", job_id, "--expected-output-hash",
             RIGHT, "--salt", SALT, "--planted", "--controller", "worker1",
             "--from", "oracle1", "-y")  # fmt: skip
    assert "caught: 1" in out
    bond = node.query("staking", "bond", "oracle2", "oracle")
    assert int(str(bond["jailed_until"])) > 0
    score = node.query("reputation", "score", "oracle2")
    assert score["penalties_bps"] == 2000
    assert node.query("reputation", "score", "oracle1")["penalties_bps"] == 0
