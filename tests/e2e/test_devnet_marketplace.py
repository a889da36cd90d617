"""scripts/devnet runs the whole marketplace: the job example it prints goes from
posted to settled with its output; the gateway URL and dev API key it prints give the
``openai`` client a completion equal to its job's settled output; Ctrl-C stops every
process it started; a second start resumes the same chain (and the same API key)
without setting anything up again.

The example is taken from the devnet's own banner and run as printed, so the
instructions a person copies are the ones under test.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from chain.client import NodeClient
from tests.support.nodes import free_port

ROOT = Path(__file__).resolve().parents[2]
BANNER = "VCoin devnet is running"
STOPPED = "stopped; `scripts/devnet` resumes this chain"
VCN = 10**18


def free_port_run(n: int) -> int:
    """The first of ``n`` consecutive free ports (the devnet's metrics ports)."""
    for _ in range(50):
        base = free_port()
        if base + n > 65535:
            continue
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def processes_of(home: Path) -> dict[int, str]:
    """Live processes started for this devnet home: the script, the node (VCOIN_HOME in
    its environment) and the daemons (the home in their command line)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (d / "environ").read_bytes().split(b"\0")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if str(home) in cmd or f"VCOIN_HOME={home}".encode() in env:
            out[int(d.name)] = cmd
    return out


def banner_complete(text: str) -> bool:
    """The banner has been written to its last line (the ``More: …`` lines, ending
    with the oracle's status command; status lines may follow)."""
    if BANNER not in text:
        return False
    tail = text[text.index(BANNER) :]
    return re.search(r"^More: .*\n.* status\n", tail, re.M) is not None


class Devnet:
    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "home"
        self.rpc_port, self.rest_port = free_port(), free_port()
        self.rpc = f"http://127.0.0.1:{self.rpc_port}"
        self.rest = f"http://127.0.0.1:{self.rest_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
        self.env.update(
            VCOIN_HOME=str(self.home),
            VCOIN_RPC_LADDR=f"127.0.0.1:{self.rpc_port}",
            VCOIN_REST_LADDR=f"127.0.0.1:{self.rest_port}",
            VCOIN_DEVNET_METRICS_PORT=str(free_port_run(4)),
            VCOIN_DEVNET_STATUS_EVERY="5",
            VCOIN_DEVNET_GATEWAY_LADDR=f"127.0.0.1:{free_port()}",
        )
        self.runs = 0

    @contextmanager
    def running(self) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
        """scripts/devnet in its own process group (as a terminal runs it), until its banner."""
        self.runs += 1
        log = self.home.parent / f"devnet-run{self.runs}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [str(ROOT / "scripts" / "devnet")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 600
            # The banner is written in parts (its first line, the endpoints, then the
            # example): wait for its last line, not its first, or a busy machine shows
            # the test a banner without its example.
            while not banner_complete(log.read_text()):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            yield proc, log
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                for pid in processes_of(self.home):
                    os.kill(pid, signal.SIGKILL)

    def ctrl_c(self, proc: subprocess.Popen[bytes]) -> int:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
        return proc.wait(120)

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )


def example_commands(banner: str) -> tuple[str, str, str]:
    """The export line, the post command (continuation lines joined) and the show
    command (its comment removed) of the banner's job example."""
    lines = banner.splitlines()
    export = next(ln.strip() for ln in lines if ln.strip().startswith("export VCOIN_HOME="))
    i = next(i for i, ln in enumerate(lines) if " tx jobs post " in ln)
    post = []
    while lines[i].rstrip().endswith("\\"):
        post.append(lines[i].rstrip()[:-1].strip())
        i += 1
    post.append(lines[i].strip())
    show = next(ln for ln in lines if " query jobs show " in ln).split("#")[0].strip()
    return export, " ".join(post), show


def gateway_of(banner: str) -> tuple[str, str]:
    """The gateway's OpenAI base URL and the dev API key, as the banner prints them."""
    url = re.findall(r"gateway \(OpenAI API\): +(\S+)", banner)[0]
    return url, re.findall(r"dev API key \(alice\): +(vk_\S+)", banner)[0]


def gateway_completion(net: Devnet, banner: str) -> None:
    """The printed key runs one completion with the official client; the answer is the
    settled output of a job of alice's (the gateway posted it under her grant)."""
    import openai

    from chain.artifact_auth import artifact_token
    from genesis.devnet import dev_key

    base_url, key = gateway_of(banner)
    assert httpx.get(base_url.removesuffix("/v1") + "/docs", timeout=10).status_code == 200
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=240)
    r = client.completions.create(model="tiny-lm", prompt="The GPU marketplace", max_tokens=8)
    vcoin = r.model_extra["vcoin"] if r.model_extra else {}
    with NodeClient(net.rpc) as c:
        job = c.query("jobs", "job", {"id": str(vcoin["job_id"])})
    assert job["state"] == "settled" and job["poster"] == dev_key("alice").bech32, job
    token = artifact_token(dev_key("alice"), "get", job["output_hash"])  # alice's private output
    url = f"{net.rest}/artifacts/{job['output_hash']}?token={token}"
    out = httpx.get(url, timeout=10).json()
    done = out["completions"][0]
    assert r.choices[0].text == done["completion"] and done["prompt"] == "The GPU marketplace"
    assert r.usage is not None and r.usage.completion_tokens == len(done["token_ids"]) > 0


@pytest.mark.slow
def test_devnet_example_job_settles_ctrl_c_stops_all_and_a_restart_resumes(
    tmp_path: Path,
) -> None:
    net = Devnet(tmp_path)
    t0 = time.monotonic()
    with net.running() as (proc, log):
        banner = log.read_text()
        started_s = time.monotonic() - t0
        assert "first run: creating" in banner
        for name in ("worker1", "worker2", "oracle1", "oracle2"):
            assert f"{name} running" in banner, banner
        assert net.rpc in banner and net.rest in banner and f"{net.rest}/artifacts" in banner
        assert "sandbox: docker" in banner or "sandbox: process, LESS isolated" in banner

        export, post, show = example_commands(banner)
        r = net.shell(f"{export}; {post}")
        assert r.returncode == 0, r.stdout + r.stderr
        job_id = int(re.findall(r"job_id: (\d+)", r.stdout)[0])
        show = show.replace(" N", f" {job_id}")

        def shown() -> str:
            r = net.shell(f"{export}; {show}")
            assert r.returncode == 0, r.stderr
            return r.stdout

        deadline = time.monotonic() + 180
        text = shown()
        while not text.startswith(f"job {job_id}: settled"):
            assert time.monotonic() < deadline, text + log.read_text()
            assert text.split()[2] in ("queued", "claimed", "submitted", "checking"), text
            time.sleep(1)
            text = shown()
        output_hash = re.findall(r"output#\s+([0-9a-f]{64})", text)[0]
        assert "worker paid 0.4 VCN" in text  # the worker's 0.5 VCN ask, 80 % paid out
        output = httpx.get(f"{net.rest}/artifacts/{output_hash}", timeout=10).json()
        assert output["task"] == "text-generation"
        assert output["completions"][0]["prompt"] == "The GPU marketplace"
        assert len(output["completions"][0]["token_ids"]) == 16
        gateway_completion(net, banner)

        procs = processes_of(net.home)
        daemons = [c for c in procs.values() if "vcoin-worker start" in c or "vcoin-oracle" in c]
        assert len(daemons) == 4 and any("vcoind start" in c for c in procs.values()), procs
        with NodeClient(net.rpc) as c:
            height = c.latest_height()
        code = net.ctrl_c(proc)
        out = log.read_text()
    assert code == 130, out
    assert STOPPED in out
    # The gateway, then the workers and oracles were stopped before the node, and cleanly.
    assert out.index("stopping the gateway") < out.index("stopping the workers and oracles")
    assert out.index("stopping the workers and oracles") < out.index("stopping the node")
    assert "stopped: gateway (exit 0)" in out
    assert "did not stop" not in out and processes_of(net.home) == {}
    assert "stopped: worker1 (exit 0) worker2 (exit 0) oracle1 (exit 0) oracle2 (exit 0)" in out
    assert re.search(r"stopped: node \(exit (0|130)\)", out), out

    with net.running() as (proc, log):
        again = log.read_text()
        assert "first run" not in again and "building" not in again, again
        assert "model tiny-lm: in the artifact store" in again
        assert gateway_of(again) == gateway_of(banner)  # the same dev API key
        with NodeClient(net.rpc) as c:
            assert c.latest_height() > height
            assert c.query("jobs", "job", {"id": job_id})["output_hash"] == output_hash
            for name in ("worker1", "worker2"):
                bond = c.query(
                    "staking", "bond", {"address": _addr(name), "role": "worker"}
                )  # bonded once, not again on the restart
                assert int(bond["bonded"]) == 1000 * VCN and bond["active"], bond
        assert net.ctrl_c(proc) == 130
    assert processes_of(net.home) == {}
    print(f"devnet first start to banner: {started_s:.0f}s")


def _addr(name: str) -> str:
    from genesis.devnet import dev_key

    return dev_key(name).bech32
