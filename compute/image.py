"""The job image's identity: the tag under which the current source tree expects it.

The docker sandbox runs ``python -m compute.runtime`` in an image tagged by a
content hash of what went into it (``worker/image/build.py`` builds it):

* ``vcoin-worker-base:<hash>`` covers ``RECIPE`` (the build steps' inputs) and
  the locked runtime requirements (``requirements/worker-image.txt``);
* ``vcoin-worker:<hash>`` covers the base tag and the runtime's own source,
  ``app_files()``: ``compute/__init__.py``, ``compute/runtime/`` and
  ``compute/training/`` (the training tasks' sharding, adapters and aggregate).

Worker and oracle find the image by ``image_tag()``, with no registry: editing
the runtime changes the tag, and a stale image is never used by mistake.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO_ROOT / "requirements" / "worker-image.txt"
BASE_REPO = "vcoin-worker-base"
REPO = "vcoin-worker"
WORKER_UID = 10001

RECIPE: dict[str, object] = {
    "version": 2,
    "suite": "bookworm",
    "variant": "minbase",
    "debs": ["python3"],
    # Parts of wheels the runtime never loads: C++ headers, test binaries.
    "strip_site": [
        "torch/include",
        "torch/test",
        "torch/bin/*Test",
        "torch/bin/test_*",
        "torch/bin/protoc*",
        "torch/lib/libtorchbind_test.so",
    ],
    "strip_root": [
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "var/cache/apt",
        "var/lib/apt/lists",
    ],
    "uid": WORKER_UID,
}


def content_hash(*parts: bytes) -> str:
    """sha256 over length-prefixed ``parts`` (no two part lists hash alike)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def base_tag(requirements: Path = REQUIREMENTS) -> str:
    """The base image's tag: Debian, the runtime's Python packages, the user.

    The lock's comment lines are left out: its ``inputs-sha256`` stamp changes with
    any dependency of the node (``pyproject.toml``), which the image does not hold,
    and should not cost every worker a rebuild."""
    recipe = json.dumps(RECIPE, sort_keys=True).encode()
    pins = b"".join(
        line
        for line in requirements.read_bytes().splitlines(keepends=True)
        if not line.lstrip().startswith(b"#")
    )
    return f"{BASE_REPO}:{content_hash(recipe, pins)[:16]}"


def app_files(root: Path = REPO_ROOT) -> list[Path]:
    """The runtime's source files that go into the image, relative to ``root``."""
    files = [Path("compute/__init__.py")]
    for pkg in ("runtime", "training"):
        files += sorted(p.relative_to(root) for p in (root / "compute" / pkg).rglob("*.py"))
    return files


def image_tag(root: Path = REPO_ROOT) -> str:
    """The job image's tag for the source tree at ``root``."""
    parts = [base_tag().encode()]
    for rel in app_files(root):
        parts += [str(rel).encode(), (root / rel).read_bytes()]
    return f"{REPO}:{content_hash(*parts)[:16]}"
