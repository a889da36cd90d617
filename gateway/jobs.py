"""Inference jobs on chain for the gateway: post with ``MsgExec`` for the user, wait, fetch.

The gateway's account (``key`` in its home) signs ``MsgExec(grantee=gateway,
msgs=[MsgPostJob(poster=user, …)])``. The authz module checks the user's grant to the
gateway and takes the job's ``max_price`` from what is left of it; the escrow and any
refund are the user's. A refusal (no grant, expired, revoked, past the budget) is the
chain's, and the gateway answers it 402 with the chain's message.

Waiting polls the job (``jobs/job``) every ``poll_s`` until a final state or the
timeout; the output is fetched from the node's artifact store
(``GET <rest>/artifacts/<sha256>``) and its sha256 checked against the job's
``output_hash``.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from chain.client import ChainRefused, NodeClient, NodeError, TxFailed, TxResponse
from chain.crypto import PrivateKey
from gateway.errors import ApiError
from gateway.proto import MsgExec, exec_cancel_training, exec_post_job, exec_post_training

FINAL_STATES = ("settled", "rejected", "cancelled", "expired", "failed")
POSTED_EVENT = "JobPosted"
TRAINING_POSTED_EVENT = "TrainingPosted"
CANCEL_JOB_URL = "/vcoin.jobs.v1.MsgCancelJob"


@dataclass(frozen=True)
class Posted:
    job_id: int
    tx_hash: str


class JobTimeout(Exception):
    def __init__(self, job_id: int, state: str, tx_hash: str) -> None:
        super().__init__(f"job {job_id} is still {state!r}")
        self.job_id, self.state, self.tx_hash = job_id, state, tx_hash


class Jobs:
    """Posts, waits and fetches through one node; thread-safe (one signer lock)."""

    def __init__(self, node: NodeClient, key: PrivateKey, rest: str, poll_s: float = 0.5) -> None:
        self.node = node
        self.key = key
        self.rest = rest.rstrip("/")
        self.poll_s = poll_s
        self._sign = threading.Lock()
        self._http = httpx.Client(timeout=30.0)

    @property
    def account(self) -> str:
        return self.key.bech32

    def close(self) -> None:
        self._http.close()

    def post(
        self, poster: str, *, model: str, task_type: str, input: bytes, spec: str, max_price: int,
        input_hash: str = "",
    ) -> Posted:  # fmt: skip
        """Post for ``poster``: ``input`` inline, or ``input_hash`` (an artifact) with b""."""
        msg = exec_post_job(
            self.key.bech32,
            poster=poster,
            task_type=task_type,
            model=model,
            inline_input=input,
            input_hash=input_hash,
            spec=spec,
            max_price=str(max_price),
        )
        resp = self._send(msg)
        ids = resp.attributes(POSTED_EVENT, "job_id")
        if not ids:
            raise ApiError(502, f"tx {resp.hash} posted no job", "node_unavailable")
        return Posted(int(ids[-1]), resp.hash)

    def cancel(self, poster: str, job_id: int) -> str:
        """``MsgExec([MsgCancelJob(poster, job_id)])`` under ``poster``'s cancel-job grant to
        the gateway (a queued job only, the chain's rule); the tx hash."""
        msg = MsgExec(grantee=self.key.bech32)
        inner = msg.msgs.add()
        inner.type_url = CANCEL_JOB_URL
        inner.value = cancel_job_bytes(poster, job_id)
        return self._send(msg).hash

    def post_training(self, poster: str, **fields: Any) -> Posted:
        """``MsgExec([MsgPostTraining(poster, **fields)])`` under ``poster``'s post-training
        grant to the gateway (the whole escrow comes off it); ``job_id`` is the training id."""
        resp = self._send(exec_post_training(self.key.bech32, poster=poster, **fields))
        ids = resp.attributes(TRAINING_POSTED_EVENT, "training_id")
        if not ids:
            raise ApiError(502, f"tx {resp.hash} posted no training", "node_unavailable")
        return Posted(int(ids[-1]), resp.hash)

    def cancel_training(self, poster: str, training_id: int) -> str:
        """``MsgExec([MsgCancelTraining(poster, training_id)])`` under ``poster``'s
        cancel-training grant to the gateway; the tx hash."""
        return self._send(exec_cancel_training(self.key.bech32, poster, training_id)).hash

    def training(self, training_id: int) -> dict[str, Any]:
        """The chain's record of a training (``training/training``), rounds_detail included."""
        try:
            return dict(self.node.query("training", "training", {"id": str(training_id)}))
        except NodeError as e:
            raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e

    def _send(self, msg: Any) -> TxResponse:
        """Sign and send one message, await its block; the chain's refusal as an ApiError."""
        try:
            with self._sign:  # one sequence at a time; the block is awaited outside the lock
                sent = self.node.send_tx(self.key, [msg], gas="auto", mode="sync")
            resp = self.node.wait_tx(sent.hash, timeout=60.0)
            if not resp.ok:
                raise TxFailed(resp, "deliver")
        except TxFailed as e:
            raise refusal(e.response.codespace, e.response.log) from e
        except ChainRefused as e:  # simulation refused it: the same rules, before the fee
            raise refusal(e.codespace, e.log) from e
        except NodeError as e:
            raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e
        return resp

    def job(self, job_id: int) -> dict[str, Any]:
        try:
            return dict(self.node.query("jobs", "job", {"id": str(job_id)}))
        except NodeError as e:
            raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e

    def wait(self, posted: Posted, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(posted.job_id)
            if j.get("state") in FINAL_STATES:
                return j
            if time.monotonic() >= deadline:
                raise JobTimeout(posted.job_id, str(j.get("state")), posted.tx_hash)
            time.sleep(self.poll_s)

    def _token(self, digest: str) -> dict[str, str]:
        """The gateway's read token: the store lets the grantee that posted a job for its
        poster read the job's output."""
        from chain.artifact_auth import AUTH_SCHEME, artifact_token

        return {"authorization": f"{AUTH_SCHEME} {artifact_token(self.key, 'get', digest)}"}

    def output(self, job: dict[str, Any]) -> bytes:
        digest = str(job.get("output_hash") or "").lower()
        if not digest:
            raise ApiError(502, f"job {job.get('id')} settled without an output", "no_output")
        return self.artifact(digest)

    def artifact(self, digest: str) -> bytes:
        """A blob of the store read with the gateway's token, its sha256 checked."""
        try:
            r = self._http.get(f"{self.rest}/artifacts/{digest}", headers=self._token(digest))
        except httpx.HTTPError as e:
            raise ApiError(
                502, f"the artifact store did not answer: {e}", "node_unavailable"
            ) from e
        if r.status_code != 200:
            raise ApiError(502, f"artifact {digest}: HTTP {r.status_code}", "artifact_unavailable")
        if hashlib.sha256(r.content).hexdigest() != digest:
            raise ApiError(502, f"artifact {digest} does not match its hash", "artifact_corrupt")
        return r.content


def refusal(codespace: str, log: str) -> ApiError:
    """The chain refused the MsgExec: the grant is missing or spent (402), else 400."""
    if codespace == "authz":
        return ApiError(
            402,
            f"the chain refused the job under your authz grant to the gateway: {log}",
            "grant_refused",
        )
    if codespace == "bank" or "insufficient" in log.lower():
        return ApiError(402, f"the chain refused the job: {log}", "insufficient_funds")
    return ApiError(400, f"the chain refused the job ({codespace}): {log}", "job_refused")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def cancel_job_bytes(poster: str, job_id: int) -> bytes:
    """``vcoin.jobs.v1.MsgCancelJob`` on the wire (poster = 1, string; job_id = 2, uint64)."""
    p = poster.encode()
    return b"\x0a" + _varint(len(p)) + p + (b"\x10" + _varint(job_id) if job_id else b"")


def completions_of(output: bytes) -> list[dict[str, Any]]:
    """The text-generation output's ``completions`` (prompt, completion, token_ids)."""
    return list(json.loads(output)["completions"])


def embeddings_of(output: bytes) -> list[list[float]]:
    """The ``embeddings`` tensor (float32 [n, dim]) of a safetensors embedding output."""
    (n,) = struct.unpack_from("<Q", output, 0)
    header = json.loads(output[8 : 8 + n])
    t = header["embeddings"]
    if t["dtype"] != "F32" or len(t["shape"]) != 2:
        raise ApiError(502, "the embedding output is not float32 [n, dim]", "bad_output")
    rows, dim = t["shape"]
    start, end = t["data_offsets"]
    data = output[8 + n + start : 8 + n + end]
    flat = struct.unpack(f"<{rows * dim}f", data)
    return [list(flat[i * dim : (i + 1) * dim]) for i in range(rows)]
