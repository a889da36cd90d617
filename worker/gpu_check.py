"""``scripts/gpu-check``: is this machine ready to run GPU jobs? Prints what it finds.

1. Lists GPUs through NVML.
2. Runs one inference (text generation) and one LoRA training step with the
   tiny model through the runtime: on CUDA in Docker when an engine with the
   NVIDIA runtime is there, on CUDA directly otherwise; on a machine with no
   GPU it says so plainly and runs the same two jobs on CPU, to show the path.
3. Prints the figures: wall time, model time, tokens/s, peak GPU memory.

Exit status 0 when both jobs ran, on CUDA wherever NVML lists a GPU (on CPU where it
lists none); 1 otherwise: a job failed, or a GPU is there that torch cannot use.
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from compute.sandbox.base import runtime_argv
from worker.nvml import Capabilities, probe

JOBS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "inference": ({"prompts": ["A GPU marketplace runs on"]}, {"max_new_tokens": 64}),
    "lora step": ({"texts": ["the quick brown fox jumps over the lazy dog"] * 4}, {"steps": 1}),
}
TASKS = {"inference": "text-generation", "lora step": "lora-train"}


def say(msg: str = "") -> None:
    print(msg, flush=True)


def _gpu_lines(caps: Capabilities) -> None:
    if caps.cpu_only:
        say(f"GPUs: none. {caps.note}.")
        say("This machine has no usable NVIDIA GPU: the checks below run on CPU instead,")
        say("to show that the job path works. They say nothing about GPU readiness.")
        return
    say(f"NVIDIA driver {caps.driver}, CUDA driver API {caps.cuda}")
    for g in caps.gpus:
        say(f"  GPU {g.index}: {g.name}, {g.memory_mib / 1024:.1f} GiB, {g.uuid}")


def _torch_cuda() -> tuple[bool, str]:
    import torch

    if torch.cuda.is_available():
        return True, f"torch {torch.__version__} sees {torch.cuda.device_count()} CUDA device(s)"
    return False, f"torch {torch.__version__} has no CUDA (a CPU build, or no driver)"


def _docker_with_nvidia() -> str | None:
    """The image tag when a Docker engine with the NVIDIA runtime and the image exist."""
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{json .Runtimes}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if info.returncode != 0 or "nvidia" not in info.stdout:
        return None
    from compute.image import image_tag
    from worker.image.build import image_exists

    tag = image_tag()
    return tag if image_exists(tag) else None


def _run_direct(job: Path, models: Path, out: Path, device: str) -> dict[str, Any]:
    argv = runtime_argv(sys.executable, job, job.parent, models, out, device)
    subprocess.run(argv, capture_output=True, text=True)
    return dict(json.loads((out / "result.json").read_text()))


def _run_docker(
    tag: str, spec: dict[str, Any], models: Path, out: Path, device: str
) -> dict[str, Any]:
    from compute.sandbox import Limits, execute_job
    from compute.sandbox.docker_backend import DockerSandbox

    gpus = ["0"] if device == "cuda" else []
    run = execute_job(
        DockerSandbox(tag), spec, models, models, out, Limits(timeout_s=600), device, gpus
    )
    if run.result is None:
        return {"ok": False, "error": {"code": run.error_code, "message": run.sandbox.logs[-800:]}}
    return run.result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args(argv)
    say("== vcoin gpu-check ==")
    caps = probe()
    _gpu_lines(caps)
    has_cuda, torch_line = _torch_cuda()
    say(torch_line)
    device = "cuda" if (not caps.cpu_only and has_cuda) else "cpu"
    if not caps.cpu_only and not has_cuda:
        say("NVML sees a GPU but torch cannot use it: install a CUDA build of torch==2.13.0.")
    tag = _docker_with_nvidia() if device == "cuda" else None
    where = f"in Docker ({tag}, NVIDIA runtime)" if tag else "directly (no sandbox)"
    say(f"Running on {device.upper()} {where}.")

    from worker.models.tiny_lm import build_tiny_lm

    figures: dict[str, Any] = {"device": device, "where": where, "gpus": caps.to_json()}
    ok = True
    with tempfile.TemporaryDirectory(prefix="vcoin-gpu-check-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        model = build_tiny_lm(root / "models", seed=0)
        for label, (inline, params) in JOBS.items():
            spec = {
                "version": 1,
                "task": TASKS[label],
                "model": model.digest,
                "input": {"inline": inline},
                "params": params,
            }
            job = root / f"{label.replace(' ', '-')}.json"
            job.write_text(json.dumps(spec))
            out = root / f"out-{label.replace(' ', '-')}"
            t0 = time.monotonic()
            if tag:
                res = _run_docker(tag, spec, root / "models", out, device)
            else:
                res = _run_direct(job, root / "models", out, device)
            wall = time.monotonic() - t0
            figures[label] = {"wall_seconds": round(wall, 3), **res.get("metrics", {})}
            if not res.get("ok"):
                ok = False
                err = res.get("error", {})
                say(f"  {label}: FAILED {err.get('code')}: {err.get('message')}")
                continue
            m = res["metrics"]
            line = f"  {label}: ok on {res['device']}, wall {wall:.2f} s"
            line += f", model {m['run_seconds']:.3f} s"
            if "generated_tokens" in m and m["run_seconds"] > 0:
                line += f", {m['generated_tokens'] / m['run_seconds']:.0f} tokens/s"
            if "final_loss" in m:
                line += f", loss {m['final_loss']:.4f}"
            if "cuda_max_memory_bytes" in m:
                line += f", peak GPU memory {m['cuda_max_memory_bytes'] / 2**20:.1f} MiB"
            say(line)
            say(f"    output hash {res['output_hash']}")
            ok = ok and res["device"] == device
    if args.json:
        say(json.dumps(figures, indent=2, default=str))
    if caps.cpu_only:
        say(
            "Result: NO GPU on this machine; the job path works on CPU." if ok else "Result: FAILED"
        )
        return 0 if ok else 1
    ok = ok and device == "cuda"  # a GPU that the jobs could not use fails the check
    say(f"Result: GPU path {'works' if ok else 'FAILED'}.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
