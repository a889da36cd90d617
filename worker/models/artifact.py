"""Model artifacts on the host side: write the blobs of a model, publish them.

A model is a manifest (see ``worker.runtime.models``) plus one blob per file,
all named by sha256 in one folder: exactly the layout the runtime reads as
``--models`` and the artifact store serves, so one folder can hold many models
and share identical files between them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from worker.runtime.hashing import sha256_file
from worker.runtime.models import Manifest, parse_manifest


@dataclass(frozen=True)
class ModelArtifact:
    digest: str  # sha256 of the manifest: the model's identity on chain
    manifest: Manifest
    folder: Path  # holds <digest> and one blob per file

    def blobs(self) -> list[Path]:
        """The manifest first, then the files, each named by its hash."""
        names = [self.digest] + sorted({d for d, _ in self.manifest.files.values()})
        return [self.folder / n for n in names]


class Uploader(Protocol):
    def upload_file(self, path: str | os.PathLike[str]) -> str: ...


def _put_blob(src: Path, folder: Path) -> str:
    digest = sha256_file(src)
    dst = folder / digest
    if not dst.exists():
        tmp = folder / f".{digest}.tmp"
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dst)
    return digest


def write_model(name: str, kind: str, files: dict[str, Path], folder: Path) -> ModelArtifact:
    """Copy ``files`` (name in the model -> path) into ``folder`` by hash and add a manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {rel: (_put_blob(p, folder), p.stat().st_size) for rel, p in sorted(files.items())}
    manifest = Manifest(name, kind, entries)
    raw = manifest.to_json()
    tmp = folder / ".manifest.tmp"
    tmp.write_bytes(raw)
    digest = _put_blob(tmp, folder)
    tmp.unlink()
    return ModelArtifact(digest, manifest, folder)


def load_model(folder: Path, digest: str) -> ModelArtifact:
    return ModelArtifact(digest, parse_manifest((folder / digest).read_bytes()), folder)


def publish(art: ModelArtifact, client: Uploader) -> str:
    """Upload every blob of ``art`` (skips what the store has); returns the model hash."""
    for blob in art.blobs():
        client.upload_file(blob)
    return art.digest
