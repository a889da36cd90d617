"""Model artifacts: a manifest naming each file by its sha256, checked before use.

A model is registered on chain by one hash, the sha256 of its manifest, a
canonical JSON document::

    {"format": "vcoin-model/1", "name": "tiny-lm-s0", "kind": "causal-lm",
     "files": {"config.json": {"sha256": "…", "size": 123}, …}}

``kind`` says which tasks the model serves (``KIND_TASKS``). The manifest and
every file are blobs in the artifact store; the worker fetches them into a
content-addressed folder (``<sha256>`` per blob) and mounts it read-only as
``--models``. ``materialize`` re-hashes every blob, then links the files under
their names in a scratch folder for the loaders.

No pickle is ever read: a manifest that names a pickle-format file
(``PICKLE_SUFFIXES``: ``torch.load`` of one runs code) is refused as ``bad_model``
whoever registered it, and the loaders (``compute.runtime.tasks``) pass
``use_safetensors=True``. Anyone may register a model (``MsgRegisterOwnModel``) and
the chain cannot see its files, so before fetching them the worker and the oracle
hold the manifest to the chain's record (``check_record``): the same ``kind``, the
files' sizes summing to the record's ``total_bytes``, and for an account's model
within the jobs param ``max_model_bytes``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compute.runtime.errors import JobError
from compute.runtime.hashing import canonical_json, sha256_file
from compute.runtime.jsonlimits import JSONLimitError, loads

MANIFEST_FORMAT = "vcoin-model/1"
KIND_TASKS = {
    "causal-lm": ("text-generation", "lora-train"),
    "sentence-embedding": ("embedding",),
}
# used with fullmatch: "$" would also match before a trailing newline
HEX64 = re.compile(r"[0-9a-f]{64}")
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
MAX_MANIFEST_BYTES = 1 << 20
# Files whose loading unpickles (torch.load, pickle.load): arbitrary code on load.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt", ".pickle")


@dataclass(frozen=True)
class Manifest:
    name: str
    kind: str
    files: dict[str, tuple[str, int]]  # relative path -> (sha256, size)

    def to_json(self) -> bytes:
        return canonical_json(
            {
                "format": MANIFEST_FORMAT,
                "name": self.name,
                "kind": self.kind,
                "files": {k: {"sha256": d, "size": n} for k, (d, n) in sorted(self.files.items())},
            }
        )


def _bad(message: str) -> JobError:
    return JobError("bad_model", message)


def parse_manifest(raw: bytes) -> Manifest:
    try:
        doc = loads(raw, MAX_MANIFEST_BYTES)
    except JSONLimitError as e:
        raise _bad(f"the model manifest: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise _bad(f"the model manifest's format must be {MANIFEST_FORMAT!r}")
    name, kind, files = doc.get("name"), doc.get("kind"), doc.get("files")
    if not isinstance(name, str) or not name:
        raise _bad("the model manifest needs a name")
    if kind not in KIND_TASKS:
        raise _bad(f"model kind must be one of {sorted(KIND_TASKS)}, got {kind!r}")
    if not isinstance(files, dict) or not files:
        raise _bad("the model manifest lists no files")
    out: dict[str, tuple[str, int]] = {}
    for rel, entry in files.items():
        # A name like ../x would escape the model folder.
        if not SAFE_NAME.fullmatch(rel) or any(part in (".", "..") for part in rel.split("/")):
            raise _bad(f"model file name {rel!r} is not a plain relative path")
        if rel.lower().endswith(PICKLE_SUFFIXES):
            raise _bad(
                f"model file {rel!r} is pickle-format weights ({', '.join(PICKLE_SUFFIXES)}), "
                "which run code when loaded: save the model as safetensors"
            )
        if not isinstance(entry, dict):
            raise _bad(f"model file {rel!r} needs sha256 and size")
        digest, size = entry.get("sha256"), entry.get("size")
        if not isinstance(digest, str) or not HEX64.fullmatch(digest):
            raise _bad(f"model file {rel!r} has no valid sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _bad(f"model file {rel!r} has no valid size")
        out[rel] = (digest, size)
    return Manifest(name, kind, out)


def check_record(
    manifest: Manifest, record: Mapping[str, Any], max_model_bytes: int | None
) -> None:
    """Hold a model's manifest to the chain's record of it (a ``jobs/model`` answer), before
    any of its files is fetched: the record's ``kind`` (when it has one), its
    ``total_bytes`` (when it has them) equal to the sum of the files' sizes, and for an
    account's model (one with an ``owner``) that sum within ``max_model_bytes`` (the
    jobs param; None: not known, not checked). The authority's models have no owner and
    no such limit, as on chain. A mismatch is ``bad_model``: the registrant declared one
    model and stored another."""
    model_id = record.get("id", "?")
    kind = record.get("kind") or ""
    if kind and kind != manifest.kind:
        raise _bad(
            f"model {model_id!r} is registered as {kind} but its manifest says {manifest.kind}"
        )
    total = sum(size for _, size in manifest.files.values())
    declared = int(record.get("total_bytes") or 0)
    if declared and declared != total:
        raise _bad(
            f"model {model_id!r} is registered with total_bytes {declared} but its "
            f"manifest's files add up to {total} bytes"
        )
    if record.get("owner") and max_model_bytes is not None and total > max_model_bytes:
        raise _bad(
            f"model {model_id!r} has {total} bytes of files; max_model_bytes is {max_model_bytes}"
        )


def _verified_blob(models_dir: Path, digest: str, what: str) -> Path:
    path = models_dir / digest
    if not path.is_file():
        raise JobError("model_not_found", f"{what} {digest} is not in the models folder")
    actual = sha256_file(path)
    if actual != digest:
        raise JobError(
            "model_hash_mismatch",
            f"{what} named {digest} hashes to {actual}: the blob is corrupt or forged; "
            "fetch it again from the artifact store",
        )
    return path


def load_manifest(models_dir: Path, digest: str) -> Manifest:
    path = _verified_blob(models_dir, digest, "model manifest")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise _bad("the model manifest is too large")
    return parse_manifest(path.read_bytes())


def materialize(models_dir: Path, digest: str, scratch: Path) -> tuple[Manifest, Path]:
    """Check the manifest and every file by hash; return a folder of named links."""
    manifest = load_manifest(models_dir, digest)
    target = scratch / f"model-{digest[:16]}"
    target.mkdir(parents=True, exist_ok=True)
    for rel, (file_digest, size) in sorted(manifest.files.items()):
        blob = _verified_blob(models_dir, file_digest, f"model file {rel}")
        if blob.stat().st_size != size:
            raise JobError("model_hash_mismatch", f"model file {rel} has the wrong size")
        link = target / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(blob.resolve(), link)
    return manifest, target
