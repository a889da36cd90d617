"""OpenAI-compatible files: ``/v1/files`` (training data for ``/v1/fine_tuning/jobs``).

``POST /v1/files`` (multipart: ``file``, ``purpose=fine-tune``) takes a JSONL file as
OpenAI's fine-tuning expects, one example an line, each one of

* ``{"messages": [{"role": …, "content": …}, …]}`` (chat; at least one ``assistant``
  message), trained on as the chat prompt renders it: ``"<role>: <content>\\n"`` a message;
* ``{"prompt": …, "completion": …}`` (legacy), trained on as ``prompt + completion``;
* ``{"text": …}``, trained on as is;

and checks it before anything is kept: UTF-8, every line a JSON object of one of
those shapes, 1 to ``MAX_EXAMPLES`` examples of at most ``MAX_TEXT_CHARS`` characters
(the LoRA runtime's own input limits), the file at most ``MAX_FILE_BYTES``. Anything
else is 400 naming the line. The bytes go to the node's artifact store under their
sha256, uploaded with the gateway's account's token: a private blob only the gateway
(its uploader) and the oracles may read. A fine-tune's input is a second blob (the
texts, ``gateway.finetune``), which the job refers to and its worker reads. The JSONL
blob itself no job refers to, so the store's garbage collection drops it after the
node's ``artifact_retention_s`` (its content is then 404: upload it again); jobs made
from it keep their input. ``DELETE`` forgets the row only. The gateway's store keeps the file's
id, owner, name, purpose, size and sha256. A file is its owner's: another account's
id is 404, as an unknown one. Scope ``files``.

Multipart is parsed with the standard library's ``email`` parser (no extra
dependency); the OpenAPI document declares the form.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
import email.parser
import email.policy
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from chain.artifacts import ArtifactClient, ArtifactError, NotFound
from chain.crypto import PrivateKey
from gateway.errors import ApiError
from gateway.store import ApiKeyRow, FileRow, Store

PURPOSE = "fine-tune"
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_EXAMPLES = 256  # compute.runtime.spec.MAX_ITEMS
MAX_TEXT_CHARS = 16 * 1024  # compute.runtime.spec.MAX_TEXT_CHARS
FILE_ID_PREFIX = "file-"
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024  # a fine-tune's adapter (results file), in memory

KeyDep = Callable[[str], Callable[[Request], Awaitable[ApiKeyRow]]]


def _bad(message: str, param: str | None = "file", code: str = "invalid_file") -> ApiError:
    return ApiError(400, message, code, param=param)


def _content(v: Any) -> str | None:
    if isinstance(v, list):  # content parts: their text
        v = "".join(p.get("text", "") for p in v if isinstance(p, dict))
    return v if isinstance(v, str) else None


def example_text(doc: Any, line: int) -> str:
    """The text one JSONL example trains on (module docstring); 400 naming ``line``."""
    where = f"line {line}"
    if not isinstance(doc, dict):
        raise _bad(f"{where}: each line must be a JSON object")
    if "messages" in doc:
        msgs = doc["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise _bad(f"{where}: messages must be a non-empty list")
        parts = []
        for m in msgs:
            content = _content(m.get("content")) if isinstance(m, dict) else None
            if content is None or not isinstance(m.get("role"), str):
                raise _bad(f"{where}: each message needs a role and a text content")
            parts.append(f"{m['role']}: {content}\n")
        if not any(m["role"] == "assistant" for m in msgs):
            raise _bad(f"{where}: an example needs at least one assistant message")
        text = "".join(parts)
    elif "prompt" in doc or "completion" in doc:
        p, c = doc.get("prompt"), doc.get("completion")
        if not isinstance(p, str) or not isinstance(c, str):
            raise _bad(f"{where}: prompt and completion must both be strings")
        text = p + c
    elif "text" in doc:
        if not isinstance(doc["text"], str):
            raise _bad(f"{where}: text must be a string")
        text = doc["text"]
    else:
        raise _bad(f"{where}: an example is {{messages}}, {{prompt, completion}} or {{text}}")
    if not text.strip():
        raise _bad(f"{where}: the example has no text")
    if len(text) > MAX_TEXT_CHARS:
        raise _bad(f"{where}: an example is at most {MAX_TEXT_CHARS} characters")
    return text


def training_texts(data: bytes) -> list[str]:
    """The texts of a fine-tuning JSONL file, checked (module docstring)."""
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise _bad("the file is not UTF-8 text: upload JSONL") from None
    texts = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as e:
            raise _bad(f"line {i} is not JSON ({e}): upload JSONL, one example a line") from e
        texts.append(example_text(doc, i))
        if len(texts) > MAX_EXAMPLES:
            raise _bad(f"at most {MAX_EXAMPLES} examples a file")
    if not texts:
        raise _bad("the file holds no examples")
    return texts


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """(text fields, (filename, bytes) of the ``file`` part) of a multipart/form-data body."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _bad("send multipart/form-data with file and purpose", None, "invalid_request")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise _bad("the multipart body could not be read", None, "invalid_request")
    fields: dict[str, str] = {}
    upload = None
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(raw, bytes):
            continue
        if name == "file":
            upload = (str(part.get_filename() or "upload.jsonl"), raw)
        else:
            fields[name] = raw.decode("utf-8", "replace")
    return fields, upload


def file_json(f: FileRow) -> dict[str, Any]:
    return {
        "id": f.id,
        "object": "file",
        "bytes": f.size,
        "created_at": f.created_at,
        "filename": f.filename,
        "purpose": f.purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": None,
        "vcoin": {"sha256": f.sha256},
    }


def artifact_client(rest: str, signer: PrivateKey | None) -> ArtifactClient:
    """The node's artifact store, every request signed by ``signer`` (the gateway's key:
    it uploads the files, so it may read them back; a gateway without a key cannot
    upload once the store requires tokens)."""
    return ArtifactClient(rest, signer=signer)


class Files:
    """The files of each owner: rows in the store, bytes in the artifact store."""

    def __init__(
        self,
        store: Store,
        artifacts: ArtifactClient,
        clock: Callable[[], float] = time.time,
        quota_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.store, self.artifacts, self.clock = store, artifacts, clock
        self.quota_bytes = quota_bytes  # per owner: one user may not fill the gateway's quota

    def upload(self, data: bytes) -> str:
        try:
            return self.artifacts.upload_bytes(data)
        except ArtifactError as e:
            if getattr(e, "code", "") == "quota_exceeded":  # the gateway account's quota
                raise ApiError(
                    413, f"the artifact store is full for now: {e}", "quota_exceeded"
                ) from e
            raise ApiError(
                502, f"the artifact store refused the file: {e}", "artifact_store"
            ) from e
        except httpx.HTTPError as e:
            raise ApiError(502, f"the artifact store did not answer: {e}", "artifact_store") from e

    def download(self, digest: str) -> bytes:
        try:
            return self.artifacts.download_bytes(digest, MAX_DOWNLOAD_BYTES)
        except NotFound as e:
            raise ApiError(
                404,
                f"the file's bytes ({digest}) are no longer in the artifact store: a blob no "
                "job uses is collected after the store's retention; upload it again",
                "file_content_gone",
            ) from e
        except (ArtifactError, httpx.HTTPError) as e:
            raise ApiError(502, f"artifact {digest}: {e}", "artifact_unavailable") from e

    def create(self, owner: str, filename: str, purpose: str, data: bytes) -> FileRow:
        if purpose != PURPOSE:
            raise _bad(f"purpose must be {PURPOSE!r}", "purpose", "invalid_parameter")
        if len(data) > MAX_FILE_BYTES:
            raise _bad(f"the file is over {MAX_FILE_BYTES} bytes")
        training_texts(data)
        used = sum(f.size for f in self.store.list_files(owner))
        if used + len(data) > self.quota_bytes:
            raise ApiError(
                413,
                f"your files hold {used} bytes and this one {len(data)}, over the "
                f"{self.quota_bytes} bytes a user may keep here (files_quota_bytes): "
                "delete some with DELETE /v1/files/{id}",
                "quota_exceeded",
            )
        digest = self.upload(data)
        assert digest == hashlib.sha256(data).hexdigest()
        row = FileRow(
            id=FILE_ID_PREFIX + secrets.token_hex(12),
            owner=owner,
            filename=filename[:256],
            purpose=purpose,
            size=len(data),
            sha256=digest,
            created_at=int(self.clock()),
        )
        self.store.add_file(row)
        return row

    def get(self, owner: str, file_id: str, param: str = "file_id") -> FileRow:
        row = self.store.get_file(owner, file_id)
        if row is None:
            raise ApiError(404, f"no such file: {file_id!r}", "file_not_found", param=param)
        return row


def install(app: FastAPI, files: Files, api_key: KeyDep) -> None:
    Key = Annotated[ApiKeyRow, Depends(api_key("files"))]
    form = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "purpose"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "purpose": {"type": "string", "enum": [PURPOSE]},
                        },
                    }
                }
            },
        }
    }

    @app.post("/v1/files", tags=["files"], openapi_extra=form)
    async def upload(request: Request, row: Key) -> dict[str, Any]:
        """Upload a JSONL training file (``purpose=fine-tune``); checked, then kept."""
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > MAX_FILE_BYTES + 64 * 1024:
            raise _bad(f"the file is over {MAX_FILE_BYTES} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FILE_BYTES + 64 * 1024:
                raise _bad(f"the file is over {MAX_FILE_BYTES} bytes")
        fields, up = parse_form(request.headers.get("content-type", ""), bytes(body))
        if up is None:
            raise _bad("the form has no file", "file", "invalid_parameter")
        purpose = fields.get("purpose", "")
        f = await run_in_threadpool(files.create, row.owner, up[0], purpose, up[1])
        return file_json(f)

    @app.get("/v1/files", tags=["files"])
    def list_files(
        row: Key, purpose: Annotated[str | None, Query(max_length=64)] = None
    ) -> dict[str, Any]:
        """Your files, newest first."""
        data = [file_json(f) for f in files.store.list_files(row.owner, purpose)]
        return {"object": "list", "data": data, "has_more": False}

    @app.get("/v1/files/{file_id}", tags=["files"])
    def get_file(file_id: str, row: Key) -> dict[str, Any]:
        return file_json(files.get(row.owner, file_id))

    @app.get("/v1/files/{file_id}/content", tags=["files"], response_class=Response)
    def file_content(file_id: str, row: Key) -> Response:
        """The file's bytes, from the artifact store, hash-checked."""
        f = files.get(row.owner, file_id)
        return Response(files.download(f.sha256), media_type="application/octet-stream")

    @app.delete("/v1/files/{file_id}", tags=["files"])
    def delete_file(file_id: str, row: Key) -> dict[str, Any]:
        """Forget the file (fine-tunes that used it keep their input on chain)."""
        if not files.store.delete_file(row.owner, file_id):
            raise ApiError(404, f"no such file: {file_id!r}", "file_not_found", param="file_id")
        return {"id": file_id, "object": "file", "deleted": True}


__all__ = ["Files", "artifact_client", "install", "training_texts"]
