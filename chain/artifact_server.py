"""The artifact store over HTTP: ``/artifacts/{sha256}`` (PUT, GET, HEAD).

The node's REST server mounts ``artifact_router`` with the chain's read rules
(``chain.artifact_policy.ChainPolicy``); ``python -m chain.artifacts`` serves a store
alone, with ``OpenReads``. Tokens and the upload index: ``chain.artifact_auth``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from chain.artifact_auth import (
    AUTH_SCHEME,
    OpenReads,
    ReadPolicy,
    TokenError,
    token_from,
    verify_token,
)
from chain.artifact_gc import main as gc_main
from chain.artifacts import (
    CHUNK,
    DEFAULT_MAX_BYTES,
    DEFAULT_QUOTA_BYTES,
    ArtifactError,
    ArtifactStore,
    Forbidden,
    Unauthorized,
    _too_large,
    check_digest,
)
from chain.crypto import to_bech32


def _error(e: ArtifactError) -> JSONResponse:
    return JSONResponse(e.to_json(), status_code=e.status)


def _signer(request: Request, op: str, digest: str) -> bytes | None:
    """The account whose token the request carries (None without one); Unauthorized
    for a bad token."""
    try:
        token = token_from(request.headers.get("authorization"), request.query_params.get("token"))
        return None if token is None else verify_token(token, op, digest)
    except TokenError as e:
        raise Unauthorized(str(e)) from None


def artifact_router(
    store: ArtifactStore, policy: ReadPolicy | None = None, require_token: bool = False
) -> APIRouter:
    """Routes ``/artifacts/{sha256}`` (PUT, GET, HEAD) over ``store``; ``policy`` says
    what is public and who may read the rest (``OpenReads``: everything is public)."""
    router = APIRouter()
    rules: ReadPolicy = policy or OpenReads()

    def may_upload(account: bytes | None) -> None:
        if account is None:
            if require_token:
                raise Unauthorized(
                    f"uploads need a signed token: 'Authorization: {AUTH_SCHEME} <token>'"
                    " (chain.artifacts.artifact_token)"
                )
            return
        why = rules.may_upload(account)
        if why is not None:
            raise Forbidden(why)

    def check_read(digest: str, request: Request) -> bool:
        """Whether the blob is public; Unauthorized / Forbidden when the request may not
        read it."""
        if rules.is_public(digest):
            return True
        account = _signer(request, "get", digest)
        if account is None:
            raise Unauthorized(
                f"artifact {digest} is not public: send a get token of its uploader, its"
                " job's poster or worker, or an oracle"
            )
        index = store.index
        if index is not None and index.uploaded_by(digest, account):
            return False
        if not rules.may_read(digest, account):
            raise Forbidden(f"{to_bech32(account)} may not read artifact {digest}")
        return False

    @router.put("/artifacts/{digest}")
    async def put_artifact(digest: str, request: Request) -> Response:
        try:
            check_digest(digest)
            account = _signer(request, "put", digest)
            await anyio.to_thread.run_sync(may_upload, account)
            text = request.headers.get("content-length")
            declared = int(text) if text is not None and text.isdigit() else 0
            if declared > store.max_bytes:
                raise _too_large(store.max_bytes)
            if store.has(digest):
                index = store.index
                known = account is None or index is None or index.uploaded_by(digest, account)
                if not known:
                    await store.put_async(digest, request.stream(), account, prove=True)
                # Already stored: nothing to keep, nothing charged.
                return JSONResponse(
                    {"sha256": digest, "size": store.size(digest), "created": False}
                )
            size = await store.put_async(digest, request.stream(), account, declared)
        except ArtifactError as e:
            return _error(e)
        return JSONResponse({"sha256": digest, "size": size, "created": True}, status_code=201)

    @router.head("/artifacts/{digest}")
    async def head_artifact(digest: str, request: Request) -> Response:
        try:
            size = store.size(digest)
            if size is None:
                return Response(status_code=404)
            public = await anyio.to_thread.run_sync(check_read, digest, request)
        except ArtifactError as e:
            return Response(status_code=e.status)
        return Response(headers=_blob_headers(digest, size, public))

    @router.get("/artifacts/{digest}")
    async def get_artifact(digest: str, request: Request) -> Response:
        try:
            f = store.open(digest)
        except ArtifactError as e:
            return _error(e)
        try:
            public = await anyio.to_thread.run_sync(check_read, digest, request)
        except ArtifactError as e:
            f.close()
            return _error(e)
        size = os.fstat(f.fileno()).st_size if hasattr(f, "fileno") else None

        def body() -> Iterator[bytes]:
            with f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return StreamingResponse(body(), headers=_blob_headers(digest, size, public))

    return router


def _blob_headers(digest: str, size: int | None, public: bool = True) -> dict[str, str]:
    headers = {
        "content-type": "application/octet-stream",
        "etag": f'"{digest}"',
        # a private blob must not sit in a shared cache that serves it to anyone
        "cache-control": f"{'public' if public else 'private'}, max-age=31536000, immutable",
    }
    if size is not None:
        headers["content-length"] = str(size)
    return headers


def main(argv: list[str] | None = None) -> int:
    """``python -m chain.artifacts [--dir D --listen H:P]``: a standalone artifact server
    (uploads need a token; with no chain behind it every blob is readable; the node mounts
    the same router with the chain's rules); ``python -m chain.artifacts gc --home HOME``:
    collect a node's store now (see ``chain.artifact_gc``)."""
    import sys

    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["gc"]:
        return gc_main(args_in[1:])
    import argparse

    import uvicorn
    from fastapi import FastAPI

    ap = argparse.ArgumentParser(prog="python -m chain.artifacts", description=main.__doc__)
    ap.add_argument("--dir", required=True, help="folder for the blobs")
    ap.add_argument("--listen", default="127.0.0.1:1317", help="host:port")
    ap.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    ap.add_argument("--quota-bytes", type=int, default=DEFAULT_QUOTA_BYTES)
    args = ap.parse_args(args_in)
    host, _, port = args.listen.rpartition(":")
    app = FastAPI(title="vcoin artifacts")
    store = ArtifactStore.local(args.dir, args.max_bytes, args.quota_bytes)
    app.include_router(artifact_router(store, require_token=True))
    uvicorn.run(app, host=host, port=int(port), log_level="warning")
    return 0
