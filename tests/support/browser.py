"""The browser tests' shared steps: where their screenshots and page dumps go, and running
a Node.js driver script (``tests/app/browser/*.mjs``, Playwright over Chromium) on a plan."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir(name: str) -> Path:
    """``$VCOIN_TEST_ARTIFACTS/<name>`` (default ``.test-artifacts/<name>``), made."""
    base = Path(os.environ.get("VCOIN_TEST_ARTIFACTS") or ROOT / ".test-artifacts")
    out = base / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_driver(
    script: Path, plan: dict[str, Any], tmp_path: Path, keep_as: Path, timeout: float = 180
) -> dict[str, Any]:
    """Run ``node script plan.json`` beside the script; its JSON answer (printed on stdout)
    is kept at ``keep_as`` for a reader of a failed run, and returned."""
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan))
    r = subprocess.run(
        ["node", str(script), str(plan_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=script.parent,
    )
    assert r.returncode == 0, f"the browser driver failed:\n{r.stderr[-4000:]}"
    out: dict[str, Any] = json.loads(r.stdout)
    keep_as.write_text(json.dumps(out, indent=1))
    return out
