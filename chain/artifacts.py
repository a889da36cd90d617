"""Content-addressed artifact store: inputs, outputs, model weights and datasets.

Only hashes go on chain; the bytes live here, named by their sha256. The node
serves the store over HTTP (``artifact_router``, mounted by the REST server):

* ``PUT /artifacts/{sha256}`` streams the body to a temporary file while
  hashing it, and keeps it only if the hash matches the name and the size is
  within the limit (422 ``hash_mismatch``, 413 ``too_large``).
* ``GET /artifacts/{sha256}`` streams the blob; ``HEAD`` gives its size.

No blob is ever held whole in memory. Storage sits behind the small
``ArtifactBackend`` protocol; ``LocalDirBackend`` (sharded paths, fsync,
atomic rename) is the default. ``ArtifactClient`` (httpx) uploads and
downloads with the same hash checks for workers and oracles.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

CHUNK = 1 << 20
# used with fullmatch: "$" would also match before a trailing newline
HEX64 = re.compile(r"[0-9a-f]{64}")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class ArtifactError(Exception):
    """A refusal with a stable ``code`` a client can act on, and its HTTP status."""

    code = "artifact_error"
    status = 400

    def to_json(self) -> dict[str, object]:
        return {"error": self.code, "message": str(self)}


class BadDigest(ArtifactError):
    code = "bad_digest"
    status = 400


class NotFound(ArtifactError):
    code = "not_found"
    status = 404


class TooLarge(ArtifactError):
    code = "too_large"
    status = 413


class HashMismatch(ArtifactError):
    code = "hash_mismatch"
    status = 422

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"content hashes to sha256 {actual}, not {expected}: upload the bytes that "
            "match the name, or name them by their own hash"
        )
        self.expected = expected
        self.actual = actual

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "expected": self.expected, "actual": self.actual}


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not HEX64.fullmatch(digest):
        raise BadDigest(f"{digest[:80]!r} is not a sha256 digest: give 64 lowercase hex digits")
    return digest


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"blob is over the store's limit of {max_bytes} bytes: split it or raise the limit"
    )


class ArtifactBackend(Protocol):
    """Where blobs live. ``put_stream`` must check the hash and size itself and
    make the blob visible only once it is complete and correct."""

    def has(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int | None: ...

    def open(self, digest: str) -> BinaryIO: ...

    def put_stream(self, digest: str, chunks: Iterable[bytes], max_bytes: int) -> int: ...


class LocalDirBackend:
    """Blobs as files ``root/ab/cd/abcd…``; uploads land in ``root/tmp`` first."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int | None:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"no artifact {digest}: upload it first") from None

    def put_stream(self, digest: str, chunks: Iterable[bytes], max_bytes: int) -> int:
        final = self.path(digest)
        h = hashlib.sha256()
        n = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix=digest[:16] + ".")
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    n += len(chunk)
                    if n > max_bytes:
                        raise _too_large(max_bytes)
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            actual = h.hexdigest()
            if actual != digest:
                raise HashMismatch(digest, actual)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o444)
            # Same bytes under the same name: a concurrent upload that won is fine.
            os.replace(tmp_name, final)
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        return n


class ArtifactStore:
    """The backend plus the node's size limit; what the HTTP routes call."""

    def __init__(self, backend: ArtifactBackend, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.backend = backend
        self.max_bytes = max_bytes

    @classmethod
    def local(
        cls, root: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES
    ) -> ArtifactStore:
        return cls(LocalDirBackend(root), max_bytes)

    def has(self, digest: str) -> bool:
        return self.backend.has(check_digest(digest))

    def size(self, digest: str) -> int | None:
        return self.backend.size(check_digest(digest))

    def open(self, digest: str) -> BinaryIO:
        return self.backend.open(check_digest(digest))

    def put_stream(self, digest: str, chunks: Iterable[bytes]) -> int:
        return self.backend.put_stream(check_digest(digest), chunks, self.max_bytes)

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.put_stream(digest, [data])
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        digest = sha256_file(path)
        if not self.has(digest):
            with open(path, "rb") as f:
                self.put_stream(digest, iter(lambda: f.read(CHUNK), b""))
        return digest

    async def put_async(self, digest: str, stream: AsyncIterator[bytes]) -> int:
        """Feed an async body into the blocking backend from a worker thread,
        one chunk at a time, so neither side buffers the whole blob."""

        async def next_chunk() -> bytes | None:
            try:
                return await stream.__anext__()
            except StopAsyncIteration:
                return None

        def chunks() -> Iterator[bytes]:
            while (chunk := anyio.from_thread.run(next_chunk)) is not None:
                if chunk:
                    yield chunk

        return await anyio.to_thread.run_sync(self.put_stream, digest, chunks())


def _error(e: ArtifactError) -> JSONResponse:
    return JSONResponse(e.to_json(), status_code=e.status)


def artifact_router(store: ArtifactStore) -> APIRouter:
    """Routes ``/artifacts/{sha256}`` (PUT, GET, HEAD) over ``store``."""
    router = APIRouter()

    @router.put("/artifacts/{digest}")
    async def put_artifact(digest: str, request: Request) -> Response:
        try:
            check_digest(digest)
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > store.max_bytes:
                raise _too_large(store.max_bytes)
            if store.has(digest):
                # Already stored: no need to read or keep the body.
                return JSONResponse(
                    {"sha256": digest, "size": store.size(digest), "created": False}
                )
            size = await store.put_async(digest, request.stream())
        except ArtifactError as e:
            return _error(e)
        return JSONResponse({"sha256": digest, "size": size, "created": True}, status_code=201)

    @router.head("/artifacts/{digest}")
    async def head_artifact(digest: str) -> Response:
        try:
            size = store.size(digest)
        except ArtifactError as e:
            return Response(status_code=e.status)
        if size is None:
            return Response(status_code=404)
        return Response(headers=_blob_headers(digest, size))

    @router.get("/artifacts/{digest}")
    async def get_artifact(digest: str) -> Response:
        try:
            f = store.open(digest)
        except ArtifactError as e:
            return _error(e)
        size = os.fstat(f.fileno()).st_size if hasattr(f, "fileno") else None

        def body() -> Iterator[bytes]:
            with f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return StreamingResponse(body(), headers=_blob_headers(digest, size))

    return router


def _blob_headers(digest: str, size: int | None) -> dict[str, str]:
    headers = {
        "content-type": "application/octet-stream",
        "etag": f'"{digest}"',
        "cache-control": "public, max-age=31536000, immutable",
    }
    if size is not None:
        headers["content-length"] = str(size)
    return headers


class ArtifactClient:
    """Upload and download blobs over HTTP, checking every hash on this side too."""

    def __init__(self, base_url: str, timeout: float = 60.0, client: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.http = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ArtifactClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, digest: str) -> str:
        return f"{self.base_url}/artifacts/{check_digest(digest)}"

    def exists(self, digest: str) -> bool:
        r = self.http.head(self.url(digest))
        if r.status_code not in (200, 404):
            r.raise_for_status()
        return r.status_code == 200

    def _put(self, digest: str, content: Iterable[bytes] | bytes, size: int) -> str:
        r = self.http.put(
            self.url(digest),
            content=content,
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
        )
        if r.status_code >= 400:
            raise _from_response(r)
        return digest

    def upload_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        return self._put(digest, data, len(data))

    def upload_file(self, path: str | os.PathLike[str]) -> str:
        digest = sha256_file(path)
        if self.exists(digest):
            return digest

        def body() -> Iterator[bytes]:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return self._put(digest, body(), os.path.getsize(path))

    def download(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Stream ``digest`` to ``dest`` (atomically); a wrong hash leaves nothing."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as f, self.http.stream("GET", self.url(digest)) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _from_response(r)
                for chunk in r.iter_bytes(CHUNK):
                    h.update(chunk)
                    f.write(chunk)
            if h.hexdigest() != digest:
                raise HashMismatch(digest, h.hexdigest())
            os.replace(tmp_name, dest)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        return dest

    def download_bytes(self, digest: str, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        r = self.http.get(self.url(digest))
        if r.status_code >= 400:
            raise _from_response(r)
        data = r.content
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise HashMismatch(digest, actual)
        return data

    def fetch_to_cache(self, digest: str, cache_dir: str | os.PathLike[str]) -> Path:
        """``cache_dir/<digest>``, downloaded once; a cached file is re-hashed before use."""
        path = Path(cache_dir) / check_digest(digest)
        if path.is_file():
            if sha256_file(path) == digest:
                return path
            path.unlink()
        return self.download(digest, path)


def _from_response(r: httpx.Response) -> ArtifactError:
    try:
        body = r.json()
        code, message = str(body.get("error", "")), str(body.get("message", r.text))
    except ValueError:
        code, message = "", r.text
    for cls in (BadDigest, NotFound, TooLarge):
        if cls.code == code or cls.status == r.status_code:
            return cls(message)
    if code == HashMismatch.code:
        return HashMismatch(str(body.get("expected", "")), str(body.get("actual", "")))
    return ArtifactError(f"artifact store answered {r.status_code}: {message}")


def main(argv: list[str] | None = None) -> int:
    """A standalone artifact server (the node mounts the same router on its REST port)."""
    import argparse

    import uvicorn
    from fastapi import FastAPI

    ap = argparse.ArgumentParser(prog="python -m chain.artifacts", description=main.__doc__)
    ap.add_argument("--dir", required=True, help="folder for the blobs")
    ap.add_argument("--listen", default="127.0.0.1:1317", help="host:port")
    ap.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    args = ap.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    app = FastAPI(title="vcoin artifacts")
    app.include_router(artifact_router(ArtifactStore.local(args.dir, args.max_bytes)))
    uvicorn.run(app, host=host, port=int(port), log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
