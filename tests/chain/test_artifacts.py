"""The artifact store: content addressed, hash-checked, size-limited, streamed.

The HTTP tests run a real server process (``python -m chain.artifacts``) so the
memory figures are the server's own.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chain.artifact_auth import artifact_token
from chain.artifacts import (
    CHUNK,
    ArtifactClient,
    ArtifactError,
    ArtifactStore,
    HashMismatch,
    LocalDirBackend,
    NotFound,
    TooLarge,
)
from chain.crypto import PrivateKey
from tests.support.artifacts import artifact_server

MAX = 200 * 1024 * 1024
# the standalone server knows no chain: any key may upload, every blob reads openly
UPLOADER = PrivateKey.from_seed(b"test uploader")


def put_auth(digest: str) -> dict[str, str]:
    return {"authorization": f"VCoin-Artifact {artifact_token(UPLOADER, 'put', digest)}"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_local_backend_stores_by_hash_in_sharded_read_only_files(tmp_path: Path) -> None:
    store = ArtifactStore.local(tmp_path, max_bytes=1024)
    data = b"weights" * 10
    digest = store.put_bytes(data)
    path = LocalDirBackend(tmp_path).path(digest)
    assert path == tmp_path / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == data
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o222 == 0
    assert store.has(digest) and store.size(digest) == len(data)
    with store.open(digest) as f:
        assert f.read() == data
    assert list((tmp_path / "tmp").iterdir()) == []


def test_backend_refuses_mismatched_hash_and_keeps_nothing(tmp_path: Path) -> None:
    store = ArtifactStore.local(tmp_path)
    claimed = sha(b"the real weights")
    with pytest.raises(HashMismatch) as e:
        store.put_stream(claimed, [b"forged ", b"weights"])
    assert e.value.actual == sha(b"forged weights")
    assert not store.has(claimed)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_backend_refuses_oversize_blob_midway(tmp_path: Path) -> None:
    store = ArtifactStore.local(tmp_path, max_bytes=1000)
    data = b"x" * 1001
    with pytest.raises(TooLarge):
        store.put_stream(sha(data), (data[i : i + 100] for i in range(0, len(data), 100)))
    assert not store.has(sha(data))
    assert list((tmp_path / "tmp").iterdir()) == []


def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        ArtifactStore.local(tmp_path).open(sha(b"nothing"))


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    blob_dir = tmp_path / "blobs"
    with artifact_server(blob_dir, max_bytes=MAX) as (url, proc):
        yield url, proc, blob_dir


def test_http_put_get_head_round_trip(server: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, _, _ = server
    data = os.urandom(3 * 1024 * 1024 + 7)
    digest = sha(data)
    assert httpx.put(f"{url}/artifacts/{digest}", content=data).status_code == 401
    r = httpx.put(f"{url}/artifacts/{digest}", content=data, headers=put_auth(digest))
    assert r.status_code == 201 and r.json() == {
        "sha256": digest,
        "size": len(data),
        "created": True,
    }
    again = httpx.put(f"{url}/artifacts/{digest}", content=data, headers=put_auth(digest))
    assert again.status_code == 200 and again.json()["created"] is False
    head = httpx.head(f"{url}/artifacts/{digest}")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
    got = httpx.get(f"{url}/artifacts/{digest}")
    assert got.status_code == 200 and got.content == data
    assert got.headers["etag"] == f'"{digest}"'


def test_http_refuses_mismatched_hash(server: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, _, _ = server
    claimed = sha(b"genuine")
    r = httpx.put(f"{url}/artifacts/{claimed}", content=b"forged", headers=put_auth(claimed))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "hash_mismatch" and body["actual"] == sha(b"forged")
    assert "upload the bytes that match" in body["message"]
    assert httpx.head(f"{url}/artifacts/{claimed}").status_code == 404


def test_http_refuses_oversize_declared_and_streamed(
    server: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, _, blob_dir = server
    digest = sha(b"whatever")
    # Declared too large: refused before a byte of the body is sent (raw HTTP,
    # since httpx will not declare a length it does not send).
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"PUT /artifacts/{digest} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {put_auth(digest)['authorization']}\r\n"
            f"Content-Length: {MAX + 1}\r\n\r\n".encode()
        )
        reply = b""
        while b'"too_large"' not in reply and (chunk := sock.recv(65536)):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b'"too_large"' in reply

    # Chunked, so the size is only known while streaming: refused midway.
    def body() -> Iterator[bytes]:
        chunk = b"\0" * (1 << 20)
        for _ in range(MAX // len(chunk) + 2):
            yield chunk

    r = httpx.put(f"{url}/artifacts/{digest}", content=body(), timeout=60, headers=put_auth(digest))
    assert r.status_code == 413 and str(MAX) in r.json()["message"]
    assert list((blob_dir / "tmp").iterdir()) == []


def test_http_bad_digest_and_missing_blob(
    server: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, _, _ = server
    r = httpx.get(f"{url}/artifacts/not-a-hash")
    assert r.status_code == 400 and r.json()["error"] == "bad_digest"
    r = httpx.get(f"{url}/artifacts/{sha(b'absent')}")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


@pytest.mark.slow
def test_large_blob_streams_through_server_in_bounded_memory(
    server: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    url, proc, _ = server
    size = 160 * 1024 * 1024
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(size >> 20):
            f.write(hashlib.sha256(i.to_bytes(4, "big")).digest() + block[32:])
    before = _peak_rss_kb(proc.pid)
    with ArtifactClient(url, UPLOADER, timeout=120) as client:
        digest = client.upload_file(src)
        out = client.download(digest, tmp_path / "back.bin")
    assert out.read_bytes() == src.read_bytes()
    grew_mb = (_peak_rss_kb(proc.pid) - before) / 1024
    # Holding the blob would cost 160 MiB; streaming costs a few chunks.
    assert grew_mb < 48, f"server peak memory grew by {grew_mb:.0f} MiB for a 160 MiB blob"


def test_client_catches_a_server_that_serves_corrupt_bytes(
    server: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    url, _, blob_dir = server
    with ArtifactClient(url, UPLOADER) as client:
        digest = client.upload_bytes(b"model weights v1")
        stored = LocalDirBackend(blob_dir).path(digest)
        os.chmod(stored, 0o644)
        stored.write_bytes(b"model weights v2")  # bit rot, or a tampered disk
        dest = tmp_path / "w.bin"
        with pytest.raises(HashMismatch):
            client.download(digest, dest)
        assert not dest.exists() and list(tmp_path.glob(".w.bin.*")) == []
        with pytest.raises(HashMismatch):
            client.download_bytes(digest)


def test_upload_file_reports_progress_and_the_store_checks_a_named_digest(
    server: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    url, _, _ = server
    src = tmp_path / "weights.safetensors"
    src.write_bytes(os.urandom(CHUNK * 2 + 7))  # three chunks, the last one short
    sent: list[int] = []
    with ArtifactClient(url, UPLOADER) as client:
        digest = client.upload_file(src, digest=sha(src.read_bytes()), on_chunk=sent.append)
        assert sent == [CHUNK, CHUNK, 7] and digest == sha(src.read_bytes())
        sent.clear()
        client.upload_file(src, on_chunk=sent.append)  # readable there already: nothing sent
        assert sent == []
        other = tmp_path / "other.bin"
        other.write_bytes(b"not the bytes that hash to this name")
        with pytest.raises(ArtifactError) as e:
            client.upload_file(other, digest=sha(b"something else"))
        assert e.value.code == "hash_mismatch"
        assert not client.readable(sha(b"something else"))
