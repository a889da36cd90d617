"""Model artifacts on the host side: write the blobs of a model, publish them.

A model is a manifest (see ``compute.runtime.models``) plus one blob per file,
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

from compute.runtime.hashing import sha256_file
from compute.runtime.models import Manifest, parse_manifest


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


class Downloader(Protocol):
    def fetch_to_cache(self, digest: str, cache_dir: str | os.PathLike[str]) -> Path: ...


def fetch_model(client: Downloader, digest: str, folder: Path) -> ModelArtifact:
    """Download a model's manifest and files into ``folder`` (skipping what is there).

    Every blob is checked against its hash on the way in (``fetch_to_cache``);
    the runtime checks them again before use, inside the sandbox.
    """
    folder.mkdir(parents=True, exist_ok=True)
    manifest = parse_manifest(client.fetch_to_cache(digest, folder).read_bytes())
    for file_digest, _ in sorted(set(manifest.files.values())):
        client.fetch_to_cache(file_digest, folder)
    return ModelArtifact(digest, manifest, folder)


def registry_entry(
    art: ModelArtifact, model_id: str, min_gpu_memory_mib: int = 0, description: str = ""
) -> dict[str, object]:
    """The jobs module's genesis ``models`` entry for ``art``.

    ``weights_sha256`` is the manifest's hash: the one artifact that names the
    weights, tokenizer and config, and what a job spec's ``model`` field holds.
    ``config_sha256`` is config.json's own hash, for readers of the registry.
    """
    from compute.runtime.models import KIND_TASKS

    config = art.manifest.files.get("config.json")
    return {
        "id": model_id,
        "task_types": list(KIND_TASKS[art.manifest.kind]),
        "weights_sha256": art.digest,
        "config_sha256": config[0] if config else art.digest,
        "min_gpu_memory_mib": min_gpu_memory_mib,
        "description": description or art.manifest.name,
    }
