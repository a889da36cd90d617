"""``vcoin-oracle`` as an operator runs it: init, register, start (a real process, the
process sandbox), a job checked and attested, SIGTERM, a clean exit."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chain.keystore import Keystore
from modules.bank.msgs import MsgSend
from tests.oracle._node import POSTER, WORKER, Scripted, market_node, post_job
from tests.oracle.conftest import Models
from tests.support.nodes import free_port

ORACLE_BIN = str(Path(sys.executable).with_name("vcoin-oracle"))
PASS = "correct horse battery staple"


def oracle(*args: str, home: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VCOIN_KEYRING_PASSPHRASE": PASS}
    return subprocess.run(
        [ORACLE_BIN, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path, unbuffered: bool) -> None:
    """`vcoin-oracle status --help | head -0`: SIGPIPE's status, no traceback; buffered,
    the write fails only at the final flush, which the CLI does itself."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = subprocess.run(
            [ORACLE_BIN, "--home", str(tmp_path), "status", "--help"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, env=env,
        )  # fmt: skip
    finally:
        os.close(write_end)
    # argparse drops a help text it could not write (unbuffered, nothing is left to flush)
    assert p.returncode == (0 if unbuffered else 141), p.stderr
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


def test_help_explains_every_command() -> None:
    r = subprocess.run([ORACLE_BIN, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for word in ("init", "register", "stake", "start", "status", "canary", "ed25519"):
        assert word in r.stdout
    r = subprocess.run([ORACLE_BIN, "start", "--help"], capture_output=True, text=True, timeout=60)
    assert "SIGTERM" in r.stdout and "--no-canaries" in r.stdout


def test_init_writes_private_encrypted_keys_and_refuses_to_clobber(tmp_path: Path) -> None:
    home = tmp_path / "o"
    r = oracle("init", "--light-kdf", home=home)
    assert r.returncode == 0, r.stderr
    assert "ed25519" in r.stdout and "mnemonic" in r.stdout
    for f in (home / "keys").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert json.loads(f.read_text()).get("backend") == "file"
    account = Keystore(home).show("oracle").address
    assert account in r.stdout
    again = oracle("init", home=home)
    assert again.returncode == 2 and "--force" in again.stderr
    assert Keystore(home).show("oracle").address == account


@pytest.mark.slow
def test_register_start_attest_and_stop_on_sigterm(tmp_path: Path, models: Models) -> None:
    home = tmp_path / "oracle"
    metrics = f"127.0.0.1:{free_port()}"
    always = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
    with market_node(tmp_path / "node", models, **always) as net:
        flags = ["--rpc", net.rpc, "--artifacts", net.rest, "--sandbox", "process"]
        assert oracle("init", "--light-kdf", *flags, home=home).returncode == 0
        address = Keystore(home).show("oracle").address
        fund = MsgSend(from_address=POSTER.bech32, to_address=address)
        fund.amount.add(denom="avcn", amount=str(20_000 * 10**18))
        net.client.send_tx(POSTER, [fund], gas="auto")
        r = oracle("register", home=home)
        assert r.returncode == 0, r.stderr
        bond = net.client.query("staking", "bond", {"address": address, "role": "oracle"})
        assert bond["active"] and bond["ed25519_pubkey"]

        worker = Scripted(net, WORKER, models, tmp_path / "work")
        worker.register()
        env = {**os.environ, "VCOIN_KEYRING_PASSPHRASE": PASS}
        log = (tmp_path / "oracle.log").open("w")
        proc = subprocess.Popen(
            [ORACLE_BIN, "--home", str(home), "start", "--metrics", metrics, "--no-canaries"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            job = post_job(net, POSTER, {"prompts": ["Check me in a sandbox"]})
            worker.work_on(job)
            net.wait_for(lambda: net.attested_events(address), timeout=180)
            assert net.job(job)["state"] == "settled"
            text = httpx.get(f"http://{metrics}/metrics", timeout=5).text
            assert 'vcoin_oracle_attestations_total{result="ok"} 1.0' in text
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            log.close()
        lines = [json.loads(x) for x in (tmp_path / "oracle.log").read_text().splitlines() if x]
        msgs = [x["msg"] for x in lines]
        assert code == 0 and "oracle stopped" in msgs
        attested = [x for x in lines if x["msg"] == "attested"][0]
        assert attested["job_id"] == job and attested["verdict"] == "pass"
        assert any("process" in str(x.get("runner", "")) for x in lines)
        status = json.loads(oracle("status", home=home).stdout)
        assert status["state"]["attested"] == 1 and status["bond"]["active"]


@pytest.mark.slow
def test_killed_mid_check_the_restarted_oracle_attests_once(tmp_path: Path, models: Models) -> None:
    home = tmp_path / "oracle"
    always = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
    with market_node(tmp_path / "node", models, **always) as net:
        flags = ["--rpc", net.rpc, "--artifacts", net.rest, "--sandbox", "process"]
        assert oracle("init", "--light-kdf", *flags, home=home).returncode == 0
        address = Keystore(home).show("oracle").address
        fund = MsgSend(from_address=POSTER.bech32, to_address=address)
        fund.amount.add(denom="avcn", amount=str(20_000 * 10**18))
        net.client.send_tx(POSTER, [fund], gas="auto")
        assert oracle("register", home=home).returncode == 0
        worker = Scripted(net, WORKER, models, tmp_path / "work")
        worker.register()
        env = {**os.environ, "VCOIN_KEYRING_PASSPHRASE": PASS}
        argv = [ORACLE_BIN, "--home", str(home), "start", "--metrics", "", "--no-canaries"]

        logs = [tmp_path / "run1.log", tmp_path / "run2.log"]
        with logs[0].open("w") as out:
            first = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            job = post_job(net, POSTER, {"prompts": ["Kill me halfway"]})
            worker.work_on(job)
            try:
                net.wait_for(lambda: "re-executing" in logs[0].read_text(), timeout=120)
            finally:
                first.kill()  # SIGKILL: no chance to clean up
                first.wait(30)
        assert net.attested_events(address) == []
        with logs[1].open("w") as out:
            second = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            try:
                net.wait_for(lambda: net.attested_events(address), timeout=180)
                net.wait_for(lambda: net.job(job)["state"] == "settled", timeout=60)
                time.sleep(1.0)  # it keeps running: nothing more may be sent
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(60) == 0
        assert [int(e["job_id"]) for e in net.attested_events(address)] == [job]
