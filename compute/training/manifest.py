"""The dataset manifest: one JSON artifact that lists a JSONL dataset's records by hash.

A dataset is one JSONL artifact, one record a line, each a JSON object of one of the shapes
the gateway's ``/v1/files`` takes: ``{"text"}``, ``{"prompt", "completion"}`` or
``{"messages": [{"role", "content"}, …]}`` (at least one ``assistant`` message). The
manifest is canonical JSON (sorted keys, no spaces)::

    {"dataset": "<sha256 hex of the JSONL bytes>", "records": ["<sha256 hex of each line's
     bytes, without its newline>", ...], "version": 1}

Records keep the file's order; shard membership is computed from the manifest
(``compute.training.shards``), so an oracle recomputes exactly which lines a worker had.
Lines end with ``\\n`` (a ``\\r\\n`` ending is part of the line's bytes, and refused: the
line would not be canonical). A record trains on one text (``record_text``): a ``text`` as
is, ``prompt + completion``, or each message as ``"<role>: <content>\\n"`` (the gateway's
rendering).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from compute.runtime.hashing import canonical_json

VERSION = 1
MAX_RECORDS = 1 << 20
MAX_TEXT_CHARS = 16 * 1024  # compute.runtime.spec.MAX_TEXT_CHARS: one example's text


@dataclass(frozen=True)
class Manifest:
    dataset: str  # sha256 hex of the JSONL bytes
    records: tuple[str, ...]  # sha256 hex of each line


def _content(v: Any) -> str | None:
    if isinstance(v, list):  # content parts: their text
        v = "".join(p.get("text", "") for p in v if isinstance(p, dict))
    return v if isinstance(v, str) else None


def record_text(doc: Any, line: int) -> str:
    """The text a record trains on (module docstring); ValueError naming ``line`` (1-based)."""
    where = f"line {line}"
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: each line must be a JSON object")
    if "messages" in doc:
        if set(doc) != {"messages"}:
            raise ValueError(f"{where}: a messages record holds only messages")
        msgs = doc["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise ValueError(f"{where}: messages must be a non-empty list")
        parts = []
        for m in msgs:
            content = _content(m.get("content")) if isinstance(m, dict) else None
            if content is None or not isinstance(m.get("role"), str):
                raise ValueError(f"{where}: each message needs a role and a text content")
            parts.append(f"{m['role']}: {content}\n")
        if not any(m["role"] == "assistant" for m in msgs):
            raise ValueError(f"{where}: a record needs at least one assistant message")
        text = "".join(parts)
    elif set(doc) == {"prompt", "completion"}:
        p, c = doc["prompt"], doc["completion"]
        if not isinstance(p, str) or not isinstance(c, str):
            raise ValueError(f"{where}: prompt and completion must both be strings")
        text = p + c
    elif set(doc) == {"text"}:
        if not isinstance(doc["text"], str):
            raise ValueError(f"{where}: text must be a string")
        text = doc["text"]
    else:
        raise ValueError(
            f"{where}: a record is {{messages}}, {{prompt, completion}} or {{text}}, "
            f"got keys {sorted(doc)}"
        )
    if not text.strip():
        raise ValueError(f"{where}: the record has no text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{where}: a record's text is at most {MAX_TEXT_CHARS} characters")
    return text


def split_lines(jsonl: bytes) -> list[bytes]:
    """The dataset's lines, without their ``\\n``; ValueError naming the first bad one."""
    if not jsonl:
        raise ValueError("the dataset is empty")
    if not jsonl.endswith(b"\n"):
        jsonl += b"\n"  # a last line without its newline is still a line
    lines = jsonl[:-1].split(b"\n")
    if len(lines) > MAX_RECORDS:
        raise ValueError(f"a dataset holds at most {MAX_RECORDS} records")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValueError(f"line {i} is empty: a dataset has one record a line, no blank lines")
        if line.endswith(b"\r"):
            raise ValueError(f"line {i} ends with \\r: write the JSONL with \\n line ends")
    return lines


def record_texts(jsonl: bytes) -> list[str]:
    """Every record's text, in file order (checked as ``build_manifest`` checks them)."""
    out = []
    for i, line in enumerate(split_lines(jsonl), start=1):
        try:
            doc = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"line {i} is not UTF-8") from None
        except ValueError as e:
            raise ValueError(f"line {i} is not JSON: {e}") from None
        out.append(record_text(doc, i))
    return out


def build_manifest(jsonl: bytes) -> tuple[bytes, int]:
    """(the canonical manifest bytes, the number of records) of a JSONL dataset.

    ValueError naming the line for an empty line, a line that is not JSON or not UTF-8,
    or a record of an unknown shape.
    """
    record_texts(jsonl)  # every line checked
    records = [hashlib.sha256(line).hexdigest() for line in split_lines(jsonl)]
    doc = {"version": VERSION, "dataset": hashlib.sha256(jsonl).hexdigest(), "records": records}
    return canonical_json(doc), len(records)


def _hex(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def parse_manifest(raw: bytes) -> Manifest:
    """A manifest's bytes, checked: canonical JSON of the version-1 shape; else ValueError."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"the manifest is not JSON: {e}") from None
    if not isinstance(doc, dict) or set(doc) != {"version", "dataset", "records"}:
        raise ValueError('a manifest is {"version", "dataset", "records"}')
    if doc["version"] != VERSION:
        raise ValueError(f"manifest version must be {VERSION}, got {doc['version']!r}")
    if not _hex(doc["dataset"]):
        raise ValueError("manifest.dataset must be a sha256 hex digest")
    recs = doc["records"]
    if not isinstance(recs, list) or not recs or not all(_hex(r) for r in recs):
        raise ValueError("manifest.records must be a non-empty list of sha256 hex digests")
    if len(recs) > MAX_RECORDS:
        raise ValueError(f"a manifest lists at most {MAX_RECORDS} records")
    if canonical_json(doc) != raw:
        raise ValueError("the manifest is not canonical JSON (sorted keys, no spaces)")
    return Manifest(doc["dataset"], tuple(recs))


def check_dataset(manifest: Manifest, jsonl: bytes) -> list[str]:
    """The texts of ``jsonl`` after checking that it is the manifest's dataset, line for
    line; ValueError saying what differs."""
    digest = hashlib.sha256(jsonl).hexdigest()
    if digest != manifest.dataset:
        raise ValueError(f"the dataset hashes to {digest}, the manifest names {manifest.dataset}")
    lines = split_lines(jsonl)
    if len(lines) != len(manifest.records):
        raise ValueError(
            f"the dataset has {len(lines)} records, the manifest lists {len(manifest.records)}"
        )
    for i, (line, want) in enumerate(zip(lines, manifest.records, strict=True), start=1):
        if hashlib.sha256(line).hexdigest() != want:
            raise ValueError(f"line {i} does not hash to the manifest's record {i}")
    return record_texts(jsonl)
