"""Content-addressed artifact store: inputs, outputs, model weights and datasets.

Only hashes go on chain; the bytes live here, named by their sha256. The node
serves the store over HTTP (``artifact_router``, mounted by the REST server):

* ``PUT /artifacts/{sha256}`` streams the body to a temporary file while
  hashing it, and keeps it only if the hash matches the name and the size is
  within the limit (422 ``hash_mismatch``, 413 ``too_large``).
* ``GET /artifacts/{sha256}`` streams the blob; ``HEAD`` gives its size.

Every upload carries a signed, expiring token (``chain.artifact_auth``: 401
``unauthorized`` without a good one); the store records who uploaded each blob
and charges its size to that account's quota (413 ``quota_exceeded``; bytes
already stored cost nothing). A blob that is not public (``ReadPolicy``; the node
answers from the chain, ``chain.artifact_policy``) is read only with a ``get``
token of an account allowed to read it (403 ``forbidden`` for another).
``collect_garbage`` deletes blobs older than the retention that nothing on chain
refers to (``python -m chain.artifacts gc``; the node runs it in the background).

No blob is ever held whole in memory. Storage sits behind the small
``ArtifactBackend`` protocol; ``LocalDirBackend`` (sharded paths, fsync,
atomic rename) is the default. ``ArtifactClient`` (httpx) uploads and
downloads with the same hash checks for workers and oracles.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
from fastapi import APIRouter

from chain.artifact_auth import (
    AUTH_SCHEME,
    ReadPolicy,
    UploadIndex,
    artifact_token,
)
from chain.crypto import PrivateKey, to_bech32

log = logging.getLogger("vcoin.artifacts")
CHUNK = 1 << 20
# used with fullmatch: "$" would also match before a trailing newline
HEX64 = re.compile(r"[0-9a-f]{64}")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024
DEFAULT_RETENTION_S = 7 * 24 * 3600
INDEX_FILE = "uploads.sqlite3"


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


class Unauthorized(ArtifactError):
    code = "unauthorized"
    status = 401


class Forbidden(ArtifactError):
    code = "forbidden"
    status = 403


class QuotaExceeded(ArtifactError):
    code = "quota_exceeded"
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

    def delete(self, digest: str) -> None: ...

    def blobs(self) -> Iterator[tuple[str, float, int]]:
        """(digest, modification time, size) of every stored blob."""
        ...

    def sweep_partial(self, now: float, older_than_s: float) -> tuple[int, int]:
        """Delete what uploads left half-written (a crash, a dropped client) and did not
        touch for ``older_than_s``; returns (files, bytes)."""
        ...


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

    def delete(self, digest: str) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            pass

    def blobs(self) -> Iterator[tuple[str, float, int]]:
        for a in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for f in sorted(a.glob("[0-9a-f][0-9a-f]/*")):
                if HEX64.fullmatch(f.name) and f.name.startswith(a.name):
                    try:
                        st = f.stat()
                    except FileNotFoundError:
                        continue
                    yield f.name, st.st_mtime, st.st_size

    def sweep_partial(self, now: float, older_than_s: float) -> tuple[int, int]:
        files = freed = 0
        for f in sorted(self.tmp.iterdir()):
            try:
                st = f.stat()
                if not f.is_file() or now - st.st_mtime < older_than_s:
                    continue  # an upload in progress writes to its file as the body comes
                f.unlink()
            except FileNotFoundError:
                continue  # its upload just finished or failed
            files += 1
            freed += st.st_size
        return files, freed

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
    """The backend, the upload index and the node's limits; what the HTTP routes call."""

    def __init__(
        self,
        backend: ArtifactBackend,
        max_bytes: int = DEFAULT_MAX_BYTES,
        index: UploadIndex | None = None,
        quota_bytes: int = DEFAULT_QUOTA_BYTES,
    ) -> None:
        self.backend = backend
        self.max_bytes = max_bytes
        self.index = index
        self.quota_bytes = quota_bytes
        self._pending: dict[bytes, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def local(
        cls,
        root: str | os.PathLike[str],
        max_bytes: int = DEFAULT_MAX_BYTES,
        quota_bytes: int = DEFAULT_QUOTA_BYTES,
    ) -> ArtifactStore:
        backend = LocalDirBackend(root)
        return cls(backend, max_bytes, UploadIndex(backend.root / INDEX_FILE), quota_bytes)

    def has(self, digest: str) -> bool:
        return self.backend.has(check_digest(digest))

    def size(self, digest: str) -> int | None:
        return self.backend.size(check_digest(digest))

    def open(self, digest: str) -> BinaryIO:
        return self.backend.open(check_digest(digest))

    def read_small(self, digest: str, most: int = 1 << 20) -> bytes | None:
        """Up to ``most`` bytes of a blob, or None when it is not stored."""
        try:
            with self.open(digest) as f:
                return f.read(most)
        except NotFound:
            return None

    def used(self, account: bytes) -> int:
        return 0 if self.index is None else self.index.used(account)

    def put_stream(
        self, digest: str, chunks: Iterable[bytes], account: bytes | None = None, declared: int = 0
    ) -> int:
        """Store a blob; with ``account``, charged to it within its quota."""
        check_digest(digest)
        if account is None or self.index is None:
            return self.backend.put_stream(digest, chunks, self.max_bytes)
        with self._lock:
            room = self.quota_bytes - self.index.used(account) - self._pending.get(account, 0)
            if declared > room:
                raise _over_quota(account, self.quota_bytes)
            hold = min(self.max_bytes, max(room, 0)) if declared <= 0 else declared
            self._pending[account] = self._pending.get(account, 0) + hold
        try:
            limit = min(self.max_bytes, max(room, 0))
            try:
                n = self.backend.put_stream(digest, chunks, limit)
            except TooLarge:
                if limit < self.max_bytes:
                    raise _over_quota(account, self.quota_bytes) from None
                raise
            self.index.record(digest, account, n)
            return n
        finally:
            with self._lock:
                left = self._pending[account] - hold
                if left:
                    self._pending[account] = left
                else:
                    del self._pending[account]

    def prove(self, digest: str, chunks: Iterable[bytes], account: bytes) -> int:
        """A re-upload of a stored blob: the bytes are hashed, not kept, and cost nothing;
        the account may read the blob from then on."""
        h, n = hashlib.sha256(), 0
        for chunk in chunks:
            n += len(chunk)
            if n > self.max_bytes:
                raise _too_large(self.max_bytes)
            h.update(chunk)
        if h.hexdigest() != digest:
            raise HashMismatch(digest, h.hexdigest())
        if self.index is not None:
            self.index.record(digest, account, n)
        return n

    def put_bytes(self, data: bytes, account: bytes | None = None) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.put_stream(digest, [data], account, len(data))
        return digest

    def put_file(self, path: str | os.PathLike[str], account: bytes | None = None) -> str:
        digest = sha256_file(path)
        if not self.has(digest):
            with open(path, "rb") as f:
                chunks = iter(lambda: f.read(CHUNK), b"")
                self.put_stream(digest, chunks, account, os.path.getsize(path))
        return digest

    async def put_async(
        self, digest: str, stream: AsyncIterator[bytes], account: bytes | None = None,
        declared: int = 0, prove: bool = False,
    ) -> int:  # fmt: skip
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

        if prove and account is not None:
            return await anyio.to_thread.run_sync(self.prove, digest, chunks(), account)
        return await anyio.to_thread.run_sync(self.put_stream, digest, chunks(), account, declared)


def _over_quota(account: bytes, quota: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"account {to_bech32(account)} would pass its upload quota of {quota} bytes: "
        "wait for its unreferenced blobs to be collected, or ask the node to raise it"
    )


def artifact_router(
    store: ArtifactStore, policy: ReadPolicy | None = None, require_token: bool = False
) -> APIRouter:
    """Routes ``/artifacts/{sha256}`` (PUT, GET, HEAD) over ``store``
    (``chain.artifact_server``, where the HTTP side lives)."""
    from chain.artifact_server import artifact_router as make

    return make(store, policy, require_token)


class ArtifactClient:
    """Upload and download blobs over HTTP, checking every hash on this side too;
    with a ``signer`` every request carries its token (``chain.artifact_auth``)."""

    def __init__(
        self,
        base_url: str,
        signer: PrivateKey | None = None,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.http = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ArtifactClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, digest: str) -> str:
        return f"{self.base_url}/artifacts/{check_digest(digest)}"

    def headers(self, op: str, digest: str) -> dict[str, str]:
        """The Authorization header for ``op`` on ``digest`` (none without a signer)."""
        if self.signer is None:
            return {}
        return {"authorization": f"{AUTH_SCHEME} {artifact_token(self.signer, op, digest)}"}

    def signed_url(self, digest: str, ttl_s: int = 600) -> str:
        """A link that reads ``digest`` for ``ttl_s`` seconds (a browser can follow it)."""
        if self.signer is None:
            return self.url(digest)
        return f"{self.url(digest)}?token={artifact_token(self.signer, 'get', digest, ttl_s)}"

    def _head(self, digest: str) -> httpx.Response:
        return self.http.head(self.url(digest), headers=self.headers("get", digest))

    def exists(self, digest: str) -> bool:
        """Whether the store holds ``digest`` (readable by us or not: the store answers
        404 for a missing blob before it asks for a token)."""
        r = self._head(digest)
        if r.status_code not in (200, 401, 403, 404):
            raise _from_response(r)
        return r.status_code != 404

    def _put(self, digest: str, content: Iterable[bytes] | bytes, size: int) -> str:
        headers = {"content-type": "application/octet-stream", "content-length": str(size)}
        r = self.http.put(
            self.url(digest), content=content, headers={**headers, **self.headers("put", digest)}
        )
        if r.status_code >= 400:
            raise _from_response(r)
        return digest

    def readable(self, digest: str) -> bool:
        """Stored and readable by us (a blob we may not read is uploaded again: the
        store keeps one copy, and our upload proves we hold it)."""
        return self._head(digest).status_code == 200

    def upload_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.readable(digest):
            return digest
        return self._put(digest, data, len(data))

    def upload_file(
        self,
        path: str | os.PathLike[str],
        digest: str | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> str:
        """Upload the file unless we can read it there already; its sha256 ``digest`` when
        the caller knows it (the store checks it all the same: 422 ``hash_mismatch``), and
        ``on_chunk(n)`` after each ``n`` bytes sent (a progress display)."""
        digest = digest or sha256_file(path)
        if self.readable(digest):
            return digest

        def body() -> Iterator[bytes]:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    if on_chunk is not None:
                        on_chunk(len(chunk))
                    yield chunk

        return self._put(digest, body(), os.path.getsize(path))

    def download(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Stream ``digest`` to ``dest`` (atomically); a wrong hash leaves nothing."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with (
                os.fdopen(fd, "wb") as f,
                self.http.stream("GET", self.url(digest), headers=self.headers("get", digest)) as r,
            ):
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
        r = self.http.get(self.url(digest), headers=self.headers("get", digest))
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


_ERRORS: tuple[type[ArtifactError], ...] = (
    BadDigest, NotFound, QuotaExceeded, TooLarge, Unauthorized, Forbidden,
)  # fmt: skip


def _from_response(r: httpx.Response) -> ArtifactError:
    body: dict[str, object] = {}
    try:
        got = r.json()
        body = got if isinstance(got, dict) else {}
        code, message = str(body.get("error", "")), str(body.get("message", r.text))
    except ValueError:
        code, message = "", r.text
    if code == HashMismatch.code:
        return HashMismatch(str(body.get("expected", "")), str(body.get("actual", "")))
    for cls in _ERRORS:
        if cls.code == code:
            return cls(message)
    for cls in _ERRORS:
        if cls.status == r.status_code:
            return cls(message or f"artifact store answered {r.status_code}")
    return ArtifactError(f"artifact store answered {r.status_code}: {message}")


def main(argv: list[str] | None = None) -> int:
    """``python -m chain.artifacts``: ``chain.artifact_server.main`` (serve, or ``gc``)."""
    from chain.artifact_server import main as server_main

    return server_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
