"""Build the worker image with no registry: Debian packages, PyPI wheels, `docker import`.

Two images, each tagged by a content hash of what went into it, and reused when
the tag already exists:

* ``vcoin-worker-base:<hash>``: a Debian root filesystem made by debootstrap
  (minbase + python3) from the Debian mirror this machine's apt is configured
  with, the runtime's Python packages (``requirements/worker-image.txt``, the
  lock of ``requirements.txt``) installed with pip into ``/opt/vcoin/site``
  from the wheel folder that ``scripts/setup`` fills, and an unprivileged user.
  Its hash covers ``RECIPE`` and that lock; change ``RECIPE["version"]`` when
  the build steps change. A cold build takes a few minutes: torch from PyPI is
  the CUDA build, and its CUDA libraries (several GB) go into the image, since
  torch does not import without them.
* ``vcoin-worker:<hash>``: the base plus the runtime's own source
  (``compute/__init__.py``, ``compute/runtime/``), byte-compiled. Its hash covers
  the base tag and those files, so editing the runtime rebuilds this layer only
  (seconds).

``image_tag()`` (``compute.image``, with the recipe and the hashing) gives the tag
the current source tree expects; the sandbox, the agent and the tests use it to
find the image. The production image is
``worker/image/Dockerfile`` (a CUDA PyTorch base); this one is its CPU twin.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from compute.image import (
    RECIPE,
    REPO,
    REPO_ROOT,
    REQUIREMENTS,
    WORKER_UID,
    app_files,
    base_tag,
    image_tag,
)

HERE = Path(__file__).resolve().parent
WHEELS = Path(os.environ.get("VCOIN_WHEELS", Path.home() / ".cache" / "vcoin" / "wheels"))
APT_SOURCES = Path("/etc/apt")

# The tag's names, here too for the scripts and tests that build or look for the image.
__all__ = ["app_files", "base_tag", "image_exists", "image_tag", "main"]

ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONPATH": "/opt/vcoin/app:/opt/vcoin/site",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "HOME": "/tmp",
    "HF_HOME": "/tmp/hf",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

WORK_ROOT = Path(os.environ.get("VCOIN_IMAGE_WORK", "/var/tmp/vcoin-worker-image"))
DEB_CACHE = Path(os.environ.get("VCOIN_DEB_CACHE", "/var/cache/vcoin/debootstrap"))


def _log(msg: str) -> None:
    print(f"[build-worker-image] {msg}", flush=True)


def image_exists(ref: str) -> bool:
    r = subprocess.run(["docker", "image", "inspect", ref], capture_output=True)
    return r.returncode == 0


def _run(cmd: list[str], **kw: object) -> None:
    r = subprocess.run(cmd, **kw)  # type: ignore[call-overload]
    if isinstance(r.stderr, str):
        noise = "is ignored: it is neither a file nor a directory"
        lines = [ln for ln in r.stderr.splitlines() if noise not in ln]
        if lines:
            print("\n".join(lines), file=sys.stderr)
    if r.returncode != 0:
        raise SystemExit(f"[build-worker-image] failed ({r.returncode}): {' '.join(cmd[:4])} ...")


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    _log("installing debootstrap")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], env=env)
    if r.returncode != 0:
        _run(["apt-get", "update", "-qq"], env=env)
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"], env=env)


def _sources_entries(apt: Path) -> list[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of every ``deb`` source apt is configured with,
    in both formats: one-line ``sources.list`` and deb822 ``*.sources``."""
    out: list[tuple[str, list[str], list[str]]] = []
    one_line = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    for f in one_line:
        if not f.is_file():
            continue
        for raw in f.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", raw.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                out.append((words[1], [words[2]], words[3:]))
    for f in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", f.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            suites, comps = fields.get("suites", "").split(), fields.get("components", "").split()
            out += [(uri, suites, comps) for uri in fields.get("uris", "").split()]
    return out


def debian_mirror(suite: str, apt: Path = APT_SOURCES) -> str:
    """The Debian mirror this machine's apt uses for ``suite`` (main), or, if
    set, ``VCOIN_DEBIAN_MIRROR``. No mirror is named in the repository."""
    if os.environ.get("VCOIN_DEBIAN_MIRROR"):
        return os.environ["VCOIN_DEBIAN_MIRROR"]
    for uri, suites, comps in _sources_entries(apt):
        if suite in suites and "main" in comps and uri.startswith(("http://", "https://")):
            return uri
    raise SystemExit(
        f"[build-worker-image] no Debian mirror for '{suite} main' in {apt}/sources.list or "
        f"{apt}/sources.list.d/: debootstrap needs one. Add a source for it to apt "
        f"(e.g. a line 'deb <mirror URL> {suite} main' in {apt}/sources.list) "
        "or set VCOIN_DEBIAN_MIRROR to the mirror's URL."
    )


def _rootfs(rootfs: Path) -> None:
    mirror = debian_mirror(str(RECIPE["suite"]))
    _ensure_debootstrap()
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    debs = ",".join(RECIPE["debs"])  # type: ignore[arg-type]
    _run(
        [
            "debootstrap",
            f"--variant={RECIPE['variant']}",
            f"--include={debs}",
            f"--cache-dir={DEB_CACHE}",
            str(RECIPE["suite"]),
            str(rootfs),
            mirror,
        ],
        stdout=subprocess.DEVNULL,
    )


def _python_packages(rootfs: Path) -> None:
    site = rootfs / "opt/vcoin/site"
    site.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    # Fetch what scripts/setup has not (nothing, usually), then install from
    # the wheel folder alone. The host's pip installs wheels for CPython 3.11,
    # the same minor version as the image's Debian python3, so the files (and
    # .pyc magic) match.
    WHEELS.mkdir(parents=True, exist_ok=True)
    lock = ["--no-deps", "--require-hashes", "-r", str(REQUIREMENTS)]
    _run([*pip, "download", "-q", "--only-binary=:all:", "-d", str(WHEELS), *lock])
    _run(
        [*pip, "install", "-q", "--no-warn-script-location", "--no-index"]
        + ["--find-links", str(WHEELS), "--target", str(site), *lock],
        # pip warns once per package about index folders in this machine's
        # pip config that may be missing; _run keeps only other lines.
        stderr=subprocess.PIPE,
        text=True,
    )
    for pattern in RECIPE["strip_site"]:  # type: ignore[attr-defined]
        for p in site.glob(pattern):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()


def _finish_rootfs(rootfs: Path) -> None:
    for rel in RECIPE["strip_root"]:  # type: ignore[attr-defined]
        p = rootfs / rel
        if p.exists():
            shutil.rmtree(p)
            p.mkdir(parents=True)
    for d in ("opt/vcoin/app", "inputs", "models", "out", "job"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    with open(rootfs / "etc/passwd", "a") as f:
        f.write(f"vcoin:x:{WORKER_UID}:{WORKER_UID}:vcoin worker:/tmp:/usr/sbin/nologin\n")
    with open(rootfs / "etc/group", "a") as f:
        f.write(f"vcoin:x:{WORKER_UID}:\n")
    # Device nodes come from the engine at run time.
    dev = rootfs / "dev"
    if dev.exists():
        shutil.rmtree(dev)
    dev.mkdir()


def _changes() -> list[str]:
    out = []
    for k, v in ENV.items():
        out += ["--change", f"ENV {k}={v}"]
    out += ["--change", f"USER {WORKER_UID}:{WORKER_UID}", "--change", "WORKDIR /tmp"]
    return out


def build_base(force: bool = False) -> str:
    tag = base_tag()
    if image_exists(tag) and not force:
        _log(f"base {tag} present, reused")
        return tag
    t0 = time.monotonic()
    work = WORK_ROOT / tag.split(":")[1]
    if work.exists():
        shutil.rmtree(work)
    rootfs = work / "rootfs"
    rootfs.mkdir(parents=True)
    try:
        _log(f"debootstrap {RECIPE['suite']} ({RECIPE['variant']} + python3)")
        _rootfs(rootfs)
        _log(f"pip install -r {REQUIREMENTS.name} ({time.monotonic() - t0:.0f} s)")
        _python_packages(rootfs)
        _finish_rootfs(rootfs)
        _log(f"docker import {tag} ({time.monotonic() - t0:.0f} s)")
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", "-", "."],
            stdout=subprocess.PIPE,
        )
        _run(
            ["docker", "import", *_changes(), "-", tag], stdin=tar.stdout, stdout=subprocess.DEVNULL
        )
        if tar.wait() != 0:
            raise RuntimeError("tar of the root filesystem failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _log(f"base {tag} built in {time.monotonic() - t0:.0f} s")
    return tag


def build_app(base: str, force: bool = False) -> str:
    tag = image_tag()
    if image_exists(tag) and not force:
        _log(f"image {tag} present, reused")
        return tag
    t0 = time.monotonic()
    name = f"vcoin-build-{os.getpid()}"
    _run(
        [
            "docker",
            "create",
            "--name",
            name,
            "--user",
            "0",
            "--network",
            "none",
            base,
            "python3",
            "-m",
            "compileall",
            "-q",
            "/opt/vcoin/app",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        staging = WORK_ROOT / f"app-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        for rel in app_files():
            dst = staging / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO_ROOT / rel, dst)
        _run(["docker", "cp", f"{staging}/.", f"{name}:/opt/vcoin/app"])
        shutil.rmtree(staging, ignore_errors=True)
        _run(["docker", "start", "-a", name])
        _run(
            [
                "docker",
                "commit",
                "--change",
                f"USER {WORKER_UID}:{WORKER_UID}",
                "--change",
                'CMD ["python3", "-m", "compute.runtime", "--help"]',
                name,
                tag,
            ],
            stdout=subprocess.DEVNULL,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    _run(["docker", "tag", tag, f"{REPO}:latest"])
    _log(f"image {tag} built in {time.monotonic() - t0:.1f} s")
    return tag


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="build-worker-image", description=__doc__.split("\n")[0])
    ap.add_argument("--print-tag", action="store_true", help="print the expected tag and exit")
    ap.add_argument("--force", action="store_true", help="rebuild even when the tag exists")
    args = ap.parse_args(argv)
    if args.print_tag:
        print(image_tag())
        return 0
    base = build_base(force=args.force)
    tag = build_app(base, force=args.force)
    print(tag)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
