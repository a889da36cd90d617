"""The Python lock: every package VCoin installs, at exact versions and hashes.

``requirements/lock.txt`` is resolved from ``pyproject.toml`` (the package, its
``worker`` extra and the ``dev`` tools) and ``requirements/tools.in`` (pip,
setuptools, uv). ``requirements/worker-image.txt`` is the subset that the
worker image installs (``worker/image/requirements.txt``), at the same versions.
``scripts/setup`` installs only from these files.

    scripts/lock                  re-resolve after editing the inputs; keeps
                                  every pin that still fits
    scripts/lock --upgrade        move every package to its newest version
    scripts/lock --upgrade-package NAME
    scripts/lock --check          exit 1, saying what to run, when the inputs
                                  changed since the lock was made (stdlib only:
                                  runs before any virtualenv exists)
    scripts/lock --prune          uninstall from .venv what the lock does not
                                  name (scripts/setup runs it)

Resolution is for CPython 3.11 on x86-64 Linux (glibc 2.28 or later), the
machines this project runs on. The package index is the one pip is configured
with on this machine (pip config or PIP_INDEX_URL), never one named here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
TOOLS = REPO / "requirements" / "tools.in"
IMAGE_IN = REPO / "worker" / "image" / "requirements.txt"
LOCK = REPO / "requirements" / "lock.txt"
IMAGE_LOCK = REPO / "requirements" / "worker-image.txt"
VENV_PY = REPO / ".venv" / "bin" / "python"
TARGET = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28"]
_STAMP = re.compile(r"^# inputs-sha256: ([0-9a-f]{64})$", re.M)


def inputs_digest() -> str:
    """A hash of what the lock is resolved from, and how."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    deps = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "target": TARGET,
    }
    h = hashlib.sha256(json.dumps(deps, sort_keys=True).encode())
    for f in (TOOLS, IMAGE_IN):
        h.update(f.read_bytes())
    return h.hexdigest()


def check() -> int:
    want = inputs_digest()
    for lock in (LOCK, IMAGE_LOCK):
        rel = lock.relative_to(REPO)
        if not lock.exists():
            print(f"[lock] {rel} is missing: run scripts/lock", file=sys.stderr)
            return 1
        m = _STAMP.search(lock.read_text())
        if not m or m[1] != want:
            print(
                f"[lock] {rel} was made from other inputs than today's pyproject.toml, "
                f"{TOOLS.relative_to(REPO)} and {IMAGE_IN.relative_to(REPO)}: "
                "run scripts/lock and commit requirements/",
                file=sys.stderr,
            )
            return 1
    return 0


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def prune() -> int:
    """Remove packages the lock does not name (the editable vcoin stays)."""
    locked = {_canonical(n) for n in re.findall(r"^([A-Za-z0-9_.-]+)==", LOCK.read_text(), re.M)}
    r = subprocess.run(
        [str(VENV_PY), "-m", "pip", "list", "--format=json", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    )
    extra = sorted(p["name"] for p in json.loads(r.stdout) if _canonical(p["name"]) not in locked)
    if extra:
        print(f"[lock] removing from .venv what the lock does not name: {' '.join(extra)}")
        subprocess.run([str(VENV_PY), "-m", "pip", "uninstall", "-q", "-y", *extra], check=True)
    return 0


def _locked_version(name: str) -> str | None:
    if not LOCK.exists():
        return None
    m = re.search(rf"^{re.escape(name)}==(\S+)", LOCK.read_text(), re.M)
    return m[1] if m else None


def _uv() -> list[str]:
    """uv from the virtualenv, installed there at the locked version if missing."""
    if not VENV_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REPO / ".venv")], check=True)
    uv = VENV_PY.parent / "uv"
    if not uv.exists():
        version = _locked_version("uv")
        spec = f"uv=={version}" if version else "uv"
        subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", spec], check=True)
    return [str(uv)]


def _index_env() -> dict[str, str]:
    """Hand pip's configured index to uv, which does not read pip's config."""
    env = dict(os.environ)
    index = env.get("PIP_INDEX_URL", "")
    if not index:
        r = subprocess.run(
            [str(VENV_PY), "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
        )
        index = r.stdout.strip() if r.returncode == 0 else ""
    if index:
        env["UV_DEFAULT_INDEX"] = index
    return env


def _header(what: str, digest: str) -> str:
    return (
        f"# {what}\n"
        "# Made by scripts/lock; do not edit by hand (scripts/lock --help).\n"
        f"# inputs-sha256: {digest}\n"
    )


def _compile(args: list[str], out: Path, extra: list[str]) -> str:
    cmd = [*_uv(), "pip", "compile", "--quiet", "--generate-hashes", "--no-header"]
    cmd += [*TARGET, "-o", str(out), *args, *extra]
    subprocess.run(cmd, check=True, cwd=REPO, env=_index_env())
    return out.read_text()


def lock(extra: list[str]) -> int:
    digest = inputs_digest()
    body = _compile(["pyproject.toml", str(TOOLS), "--extra", "dev"], LOCK, extra)
    what = "Every Python package of VCoin (runtime, worker extra, dev tools), locked."
    LOCK.write_text(_header(what, digest) + body)
    # Same versions as the main lock: it is the constraint, not a preference.
    image = _compile([str(IMAGE_IN), "-c", str(LOCK)], IMAGE_LOCK, [])
    what = "The worker image's Python packages (worker/image/requirements.txt), locked."
    IMAGE_LOCK.write_text(_header(what, digest) + image)
    pins = len(re.findall(r"^\S+==", LOCK.read_text(), re.M))
    print(f"[lock] {LOCK.relative_to(REPO)}: {pins} packages; {IMAGE_LOCK.relative_to(REPO)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/lock",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[2:]),
    )
    ap.add_argument("--check", action="store_true", help="fail when the lock is out of date")
    ap.add_argument("--prune", action="store_true", help="remove unlocked packages from .venv")
    ap.add_argument("--upgrade", action="store_true", help="newest versions of everything")
    ap.add_argument("--upgrade-package", action="append", default=[], metavar="NAME")
    args = ap.parse_args(argv)
    if args.check:
        return check()
    if args.prune:
        return prune()
    extra = ["--upgrade"] if args.upgrade else []
    for name in args.upgrade_package:
        extra += ["--upgrade-package", name]
    return lock(extra)


if __name__ == "__main__":
    raise SystemExit(main())
