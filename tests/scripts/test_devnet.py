"""scripts/devnet --node-only: first run inits and starts; Ctrl-C stops cleanly; a rerun
resumes the chain. (The whole marketplace: tests/e2e/test_devnet_marketplace.py.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from genesis.devnet import DEV_BALANCE
from tests.support.nodes import free_port, vcoind

ROOT = Path(__file__).resolve().parents[2]
BANNER = "VCoin devnet is running"
VCN = 10**18


def run_devnet(home: Path, rpc: int, rest: int) -> tuple[int, str, int, int]:
    """Run scripts/devnet until its banner, send one tx, Ctrl-C it.

    Returns the exit code, the output, the tx's height and bob's balance after it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
    env.update(
        VCOIN_HOME=str(home),
        VCOIN_RPC_LADDR=f"127.0.0.1:{rpc}",
        VCOIN_REST_LADDR=f"127.0.0.1:{rest}",
    )
    log = home.parent / f"devnet-{rpc}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "devnet"), "--node-only", "--instant"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    try:
        deadline = time.monotonic() + 180
        while BANNER not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        r = vcoind(
            "tx",
            "bank",
            "send",
            "alice",
            "bob",
            "1VCN",
            "-y",
            "--node",
            f"127.0.0.1:{rpc}",
            home=home,
        )
        assert r.returncode == 0, r.stderr
        height = int(re.findall(r"height:\s+(\d+)", r.stdout)[0])
        r = vcoind("-o", "json", "query", "balance", "bob", "--node", f"127.0.0.1:{rpc}", home=home)
        balance = int(json.loads(r.stdout)["amount"])
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return code, log.read_text(), height, balance


@pytest.mark.slow
def test_devnet_starts_stops_and_resumes(tmp_path: Path) -> None:
    home = tmp_path / "devnet-home"
    rpc, rest = free_port(), free_port()
    code, out, height1, balance1 = run_devnet(home, rpc, rest)
    assert code == 130, out
    assert "first run: creating" in out and f"http://127.0.0.1:{rpc}" in out
    assert f"http://127.0.0.1:{rest}" in out and "vcoind tx bank send alice bob" in out
    assert balance1 == DEV_BALANCE + VCN
    code, out, height2, balance2 = run_devnet(home, rpc, rest)
    assert code == 130 and "first run" not in out, out
    # The same chain went on: later blocks, and the first run's transfer is still there.
    assert height2 > height1 and balance2 == DEV_BALANCE + 2 * VCN
