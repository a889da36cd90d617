"""What the agent remembers across restarts, in ``<home>/data/state.json``.

* ``last_height``: every block up to it has been looked at for jobs, so a
  restart catches up from the block after it and misses nothing.
* ``jobs``: the jobs this worker holds and how far each got (for the logs and
  ``vcoin-worker status``; the chain stays the judge of who holds what).
* ``heartbeat_slot``: the last reputation slot a heartbeat was sent in.

Every change is written at once, atomically (temp file, fsync, rename), so a
kill -9 leaves either the old or the new state, never a torn one. A lock file
keeps a second agent off the same home.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

VERSION = 1


class HomeLocked(Exception):
    pass


class AgentState:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.path = data_dir / "state.json"
        self._lock = threading.Lock()
        self.last_height = 0
        self.heartbeat_slot = -1
        self.jobs: dict[int, dict[str, Any]] = {}
        self._lock_fd: int | None = None
        self._load()

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except ValueError as e:
            raise ValueError(
                f"{self.path} is not valid JSON ({e}); move it away to start afresh"
            ) from e
        self.last_height = int(doc.get("last_height", 0))
        self.heartbeat_slot = int(doc.get("heartbeat_slot", -1))
        self.jobs = {int(k): dict(v) for k, v in (doc.get("jobs") or {}).items()}

    def lock_home(self) -> None:
        """Hold ``data/agent.lock`` for the life of the process (released by the kernel)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise HomeLocked(
                f"another vcoin-worker already runs on {self.dir.parent}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock_home(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._doc()

    def _doc(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "last_height": self.last_height,
            "heartbeat_slot": self.heartbeat_slot,
            "jobs": {str(k): v for k, v in sorted(self.jobs.items())},
        }

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self._doc(), f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def handled(self, height: int) -> None:
        """Every block up to ``height`` has been looked at."""
        with self._lock:
            if height > self.last_height:
                self.last_height = height
                self._save()

    def set_job(self, job_id: int, **fields: Any) -> None:
        with self._lock:
            self.jobs.setdefault(job_id, {}).update(fields)
            self._save()

    def drop_job(self, job_id: int) -> None:
        with self._lock:
            if self.jobs.pop(job_id, None) is not None:
                self._save()

    def set_heartbeat_slot(self, slot: int) -> None:
        with self._lock:
            self.heartbeat_slot = slot
            self._save()
