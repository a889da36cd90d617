"""``rpcload`` (``main.go`` here: a closed-loop HTTP/1.1 JSON-RPC load generator, Go
stdlib only) for the benchmarks: :func:`build` makes it once per source version into
``~/.cache/vcoin/rpcload/<digest>/`` (``go build``, offline: ``GOPROXY=off``,
``GOTOOLCHAIN=local``); :func:`run` runs it and returns its figures.

``scripts/bench/jsonrpc.py`` imports this folder as a package (the script's folder is
on ``sys.path``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent


def build(log: Callable[[str], None]) -> Path | None:
    """The ``rpcload`` binary, built if this source version has none yet; None, saying
    why, without ``go`` or when the build fails (the caller falls back)."""
    go = shutil.which("go")
    if go is None:
        log("go not found: falling back to the aiohttp client (--client aiohttp)")
        return None
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((SRC / name).read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vcoin" / "rpcload"
    exe = cache / digest.hexdigest()[:16] / "rpcload"
    if exe.exists():
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f"rpcload.{os.getpid()}.tmp")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    env["CGO_ENABLED"] = "0"
    r = subprocess.run(
        [go, "build", "-trimpath", "-o", str(tmp), "."],
        cwd=SRC,
        env=env,
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        log(f"go build of rpcload failed, falling back to the aiohttp client:\n{r.stderr}")
        return None
    tmp.replace(exe)
    return exe


def run(
    exe: Path,
    url: str,
    bodies: list[str],
    seconds: float,
    warmup: float,
    conns: int,
    pipeline: int = 1,
    at_start: Callable[[], None] | None = None,
    at_stop: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """``rpcload`` against ``url``, cycling through ``bodies`` (JSON-RPC requests);
    ``at_start`` and ``at_stop`` are called when it starts and stops counting (for
    the server's CPU over the window). Its JSON line: requests, seconds, rps,
    p50_ms, p99_ms, max_ms, errors, non200, rpc_errors, conn_errors, first_error,
    client_cpu_s."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as f:
        f.write("".join(b + "\n" for b in bodies))
        f.flush()
        argv = [str(exe), "-url", url, "-c", str(conns), "-pipeline", str(pipeline)]
        argv += ["-seconds", str(seconds), "-warmup", str(warmup), "-bodies", f.name]
        out: dict[str, Any] | None = None
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.strip() == "start" and at_start is not None:
                    at_start()
                elif line.strip() == "stop" and at_stop is not None:
                    at_stop()
                elif line.startswith("{"):
                    out = json.loads(line)
    if proc.returncode != 0 or out is None:
        raise RuntimeError(f"rpcload exited {proc.returncode} without its figures")
    return out
