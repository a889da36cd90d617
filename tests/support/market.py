"""The marketplace in process, for the jobs, verification, settlement, simulation and
oracle attestation tests (their genesis: ``tests.support.genesis.market_genesis()``).

* ``Market``: a ``StakeChain`` (invariants after every block) with builders
  for every jobs and verification message, signed receipts and attestations,
  and reads over the last commit.
* ``oracle_key(name)``: the deterministic ed25519 key of a test oracle.
* ``output_of(job_id)``, ``job_id_of(result)``, ``code(result)``: small readers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from google.protobuf.message import Message
from nacl.signing import SigningKey

from app.app import App
from chain.crypto import PrivateKey
from chain.results import BlockResult, TxResult
from modules.jobs import msgs as jm
from modules.jobs import receipt
from modules.jobs.records import Job
from modules.verification import attestation, canary
from modules.verification import msgs as vm
from tests.support.chain import CHAIN_ID
from tests.support.genesis import h32, weights_of
from tests.support.stake import VCN, StakeChain

IMAGE = "sha256:" + "ab" * 32


def bond_worker_and_oracle(
    client: Any, worker: PrivateKey, oracle: PrivateKey, name: str
) -> SigningKey:
    """Over a node's RPC (``chain.client.NodeClient``): ``worker`` registers for tiny-lm
    text generation and bonds 1,000 VCN, ``oracle`` bonds 10,000 VCN with the ed25519 key
    ``oracle_key(name)``, which is returned (it signs attestations)."""
    from modules.staking.msgs import Coin, MsgBond

    client.send_tx(
        worker,
        [
            jm.MsgRegisterWorker(
                worker=worker.bech32,
                gpu_model="NVIDIA L4",
                memory_mib=24_000,
                gpu_count=1,
                task_types=["text-generation"],
                models=["tiny-lm"],
                price_floor="0",
                max_concurrent=2,
            ),
            MsgBond(
                address=worker.bech32,
                role="worker",
                amount=Coin(denom="avcn", amount=str(1_000 * VCN)),
            ),
        ],
        gas="auto",
    )
    sk = oracle_key(name)
    client.send_tx(
        oracle,
        [
            MsgBond(
                address=oracle.bech32,
                role="oracle",
                amount=Coin(denom="avcn", amount=str(10_000 * VCN)),
                ed25519_pubkey=bytes(sk.verify_key),
            )
        ],
        gas="auto",
    )
    return sk


def claim_and_submit(
    client: Any, worker: PrivateKey, job_id: int, output: bytes, image: str = IMAGE
) -> None:
    """Over a node's RPC (``chain.client.NodeClient``): ``worker`` claims ``job_id`` and
    submits ``output`` (its hash) with a receipt it signs for ``image``."""
    client.send_tx(worker, [jm.MsgClaimJob(worker=worker.bech32, job_id=job_id)], gas="auto")
    job = client.query("jobs", "job", {"id": str(job_id)})
    chain_id = client.chain_id()
    model = weights_of(job["model"])
    inp = bytes.fromhex(job["input_hash"])
    sig = receipt.sign(worker, chain_id, job_id, image, model, inp, output)
    submit = jm.MsgSubmitResult(
        worker=worker.bech32,
        job_id=job_id,
        output_hash=output.hex(),
        artifact_ref=f"artifact://{output.hex()}",
        compute_units=100,
        receipt=jm.ExecutionReceipt(
            image_digest=image,
            model_hash=model.hex(),
            input_hash=inp.hex(),
            output_hash=output.hex(),
            signature=sig,
        ),
    )
    client.send_tx(worker, [submit], gas="auto")


def oracle_key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(b"vcoin-test-oracle:" + name.encode()).digest())


def output_of(job_id: int, honest: bool = True) -> bytes:
    """The correct output hash of a test job (or a wrong one)."""
    return h32(f"output:{job_id}" if honest else f"junk:{job_id}")


class Market(StakeChain):
    """A chain driver for the marketplace; invariants are checked after every block."""

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.oracle_keys: dict[bytes, SigningKey] = {}

    # -- messages -------------------------------------------------------------------
    def register_worker_msg(
        self,
        key: PrivateKey,
        models: Sequence[str] = ("tiny-lm",),
        task_types: Sequence[str] = ("text-generation",),
        memory_mib: int = 24_000,
        gpu_count: int = 1,
        gpu_model: str = "NVIDIA L4",
        price_floor: int = 0,
        max_concurrent: int = 4,
    ) -> Message:
        return jm.MsgRegisterWorker(
            worker=key.bech32,
            gpu_model=gpu_model,
            memory_mib=memory_mib,
            gpu_count=gpu_count,
            task_types=list(task_types),
            models=list(models),
            price_floor=str(price_floor),
            max_concurrent=max_concurrent,
        )

    def post_msg(
        self,
        key: PrivateKey,
        max_price: int = 10 * VCN,
        model: str = "tiny-lm",
        task_type: str = "text-generation",
        prompt: bytes = b"hello",
        priority: int = 0,
        **kw: Any,
    ) -> Message:
        return jm.MsgPostJob(
            poster=key.bech32,
            task_type=task_type,
            model=model,
            inline_input=prompt,
            max_price=str(max_price),
            priority=priority,
            **kw,
        )

    def submit_msg(
        self,
        key: PrivateKey,
        job_id: int,
        output: bytes | None = None,
        units: int = 100,
        sign_with: PrivateKey | None = None,
        model_hash: bytes | None = None,
        chain_id: str = CHAIN_ID,
    ) -> Message:
        j = self.job(job_id)
        out = output_of(job_id) if output is None else output
        mh = weights_of(j.model) if model_hash is None else model_hash
        sig = receipt.sign(sign_with or key, chain_id, job_id, IMAGE, mh, j.input_hash, out)
        return jm.MsgSubmitResult(
            worker=key.bech32,
            job_id=job_id,
            output_hash=out.hex(),
            artifact_ref=f"artifact://{out.hex()}",
            compute_units=units,
            receipt=jm.ExecutionReceipt(
                image_digest=IMAGE,
                model_hash=mh.hex(),
                input_hash=j.input_hash.hex(),
                output_hash=out.hex(),
                signature=sig,
            ),
        )

    def attest_msg(
        self,
        key: PrivateKey,
        job_id: int,
        verdict: str = "pass",
        similarity: int | None = None,
        chain_id: str = CHAIN_ID,
        signer: SigningKey | None = None,
    ) -> Message:
        sim = (10_000 if verdict == "pass" else 1_000) if similarity is None else similarity
        evidence = h32(f"evidence:{job_id}:{key.bech32}")
        sk = signer or self.oracle_keys[key.address]
        sig = attestation.sign(sk, chain_id, job_id, verdict, sim, evidence)
        return vm.MsgAttest(
            oracle=key.bech32,
            job_id=job_id,
            verdict=verdict,
            similarity_bps=sim,
            evidence_hash=evidence.hex(),
            signature=sig,
        )

    # -- one-tx-per-block shortcuts ----------------------------------------------------
    def run(self, key: PrivateKey, *msgs: Message) -> BlockResult:
        """One tx in its own block; the whole block's result (its end_block events too)."""
        return self.block([self.sign(key, list(msgs))])

    def bond_worker(self, key: PrivateKey, amount: int = 1_000 * VCN) -> TxResult:
        return self.bond(key, "worker", amount)

    def bond_oracle(self, key: PrivateKey, name: str, amount: int = 10_000 * VCN) -> TxResult:
        sk = oracle_key(name)
        self.oracle_keys[key.address] = sk
        return self.bond(key, "oracle", amount, bytes(sk.verify_key))

    def setup_worker(self, key: PrivateKey, **kw: Any) -> None:
        """Register and bond ``key`` as a worker in one block."""
        txs = [self.sign(key, [self.register_worker_msg(key, **kw)])]
        from tests.support.stake import bond_msg

        txs.append(self.sign(key, [bond_msg(key, "worker", 1_000 * VCN)]))
        r = self.block(txs)
        for t in r.tx_results:
            assert t.code == 0, t.log

    def post(self, key: PrivateKey, **kw: Any) -> int:
        r = self.tx(key, self.post_msg(key, **kw))
        assert r.code == 0, r.log
        return job_id_of(r)

    def claim(self, key: PrivateKey, job_id: int) -> TxResult:
        return self.tx(key, jm.MsgClaimJob(worker=key.bech32, job_id=job_id))

    def submit(self, key: PrivateKey, job_id: int, **kw: Any) -> TxResult:
        return self.tx(key, self.submit_msg(key, job_id, **kw))

    def cancel(self, key: PrivateKey, job_id: int) -> TxResult:
        return self.tx(key, jm.MsgCancelJob(poster=key.bech32, job_id=job_id))

    def release(self, key: PrivateKey, job_id: int, retry: bool, reason: str = "") -> TxResult:
        return self.tx(
            key, jm.MsgReleaseJob(worker=key.bech32, job_id=job_id, reason=reason, retry=retry)
        )

    def attest(self, key: PrivateKey, job_id: int, verdict: str = "pass", **kw: Any) -> TxResult:
        return self.tx(key, self.attest_msg(key, job_id, verdict, **kw))

    def commit_canary(
        self, key: PrivateKey, job_id: int, expected: bytes, salt: bytes, planted: bool = False
    ) -> TxResult:
        c = canary.commitment(job_id, expected, salt, planted)
        return self.tx(key, vm.MsgCommitCanary(oracle=key.bech32, commitment=c.hex()))

    def commit_post_canary(
        self,
        key: PrivateKey,
        poster: PrivateKey,
        prompt: bytes,
        expected: bytes,
        salt: bytes,
        planted: bool = False,
    ) -> TxResult:
        """A commitment bound to the post (``poster`` posting ``prompt`` inline), sent
        before the job exists."""
        inp = hashlib.sha256(prompt).digest()
        c = canary.post_commitment(poster.address, inp, expected, salt, planted)
        return self.tx(key, vm.MsgCommitCanary(oracle=key.bech32, commitment=c.hex()))

    def reveal_msg(
        self,
        key: PrivateKey,
        job_id: int,
        expected: bytes,
        salt: bytes,
        controller: PrivateKey | None,
        planted: bool = False,
        chain_id: str = CHAIN_ID,
        bound_to_post: bool = False,
    ) -> Message:
        """A reveal signed by ``controller`` (the job's poster for a canary, its worker for a
        plant; None: no signature), over the commitment bound to the job id, or with
        ``bound_to_post`` to the job's poster and input."""
        sig = b""
        if controller is not None:
            j = self.job(job_id) if bound_to_post else None
            post = None if j is None else (j.poster, j.input_hash)
            sig = canary.sign_reveal(
                controller, chain_id, job_id, expected, salt, planted, post=post
            )
        return vm.MsgRevealCanary(
            oracle=key.bech32,
            job_id=job_id,
            expected_output_hash=expected.hex(),
            salt=salt.hex(),
            planted=planted,
            controller_signature=sig,
        )

    def reveal_canary(
        self,
        key: PrivateKey,
        job_id: int,
        expected: bytes,
        salt: bytes,
        controller: PrivateKey | None,
        planted: bool = False,
        bound_to_post: bool = False,
    ) -> TxResult:
        msg = self.reveal_msg(
            key, job_id, expected, salt, controller, planted, bound_to_post=bound_to_post
        )
        return self.tx(key, msg)

    # -- reads ---------------------------------------------------------------------------
    def job(self, job_id: int) -> Job:
        from modules.jobs import state

        j = state.get_job(self.app.query_ctx(), job_id)
        assert j is not None, f"no job {job_id}"
        return j

    def q(self, module: str, name: str, **req: Any) -> Any:
        return self.app.custom_query(module, name, req)

    def pending(self, job_id: int) -> Any:
        return self.q("verification", "status", job_id=job_id)["pending"]


def job_id_of(r: TxResult | BlockResult) -> int:
    evs = r.events if isinstance(r, TxResult) else [e for t in r.tx_results for e in t.events]
    ids = [e.get("job_id") for e in evs if e.type == "JobPosted"]
    assert ids, "no JobPosted event"
    return int(str(ids[-1]))


def code(r: TxResult) -> tuple[str, int]:
    return (r.codespace, r.code)
