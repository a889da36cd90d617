"""Handlers of the verification module: canary commit and reveal, attestations.

A reveal opens the revealer's own commitment and is signed by the job's
controller (``canary.reveal_sign_bytes``): the poster's account key for a
canary, the worker's for a plant. A job a module posted for one of its records
(a training's shard or aggregate job, posted by the ``training`` module account,
which has no key) is controlled by that record's owner, the training's poster
(``VerificationKeeper.controller_of``, from the wiring's ``JobOwners``): so a
canary training's persona reveals its shards, and nobody else can.

Without that, any oracle could precommit made-up canaries or plants for the
next job ids and punish whoever runs or passes an honest user's job.
"""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.crypto import to_bech32, verify_signature
from chain.module import Handler
from modules.verification import attestation, canary, events, state
from modules.verification.errors import (
    ErrAlreadyAttested,
    ErrBadSignature,
    ErrCommitmentExists,
    ErrCommittedTooLate,
    ErrInvalidAttestation,
    ErrJobNotFound,
    ErrNoCommitment,
    ErrNoOracleKey,
    ErrNotController,
    ErrNothingPlanted,
    ErrNotOracle,
    ErrNotPicked,
    ErrNotRevealable,
)
from modules.verification.expected import JobView
from modules.verification.keeper import ORACLE, VerificationKeeper
from modules.verification.msgs import Attest, CommitCanary, RevealCanary
from modules.verification.records import (
    CHECKING,
    DECIDED,
    FAIL,
    PASS,
    Attestation,
    Canary,
    Pending,
)

SUBMITTED = "submitted"  # the jobs module's state of a result with no verdict yet
SETTLED, REJECTED = "settled", "rejected"  # … and of a result with its verdict carried out


def _active_oracle(
    ctx: Ctx, k: VerificationKeeper, msg: CommitCanary | RevealCanary | Attest
) -> bytes:
    """The message's oracle, which must be active."""
    if not k.staking.is_active(ctx, msg.oracle, ORACLE):
        raise ErrNotOracle(
            f"{msg.sender} is not an active oracle: bond the oracle minimum (and be neither jailed "
            "nor tombstoned) first"
        )
    return msg.oracle


def handle_commit_canary(k: VerificationKeeper, ctx: Ctx, msg: CommitCanary) -> None:
    oracle = _active_oracle(ctx, k, msg)
    c = msg.commitment
    if state.get_canary(ctx, c) is not None:
        # lowercase hex in the message, so .hex() prints it as sent
        raise ErrCommitmentExists(f"commitment {c.hex()} is already on chain")
    h = ctx.block.height
    state.set_canary(ctx, Canary(c, oracle, h, h + state.get_params(ctx).canary_ttl_blocks))
    ctx.emit(events.canary_committed(oracle, c))


def make_commit_canary(k: VerificationKeeper) -> Handler[CommitCanary]:
    return partial(handle_commit_canary, k)


def _controlled(ctx: Ctx, k: VerificationKeeper, msg: RevealCanary, job: JobView, c: bytes) -> None:
    """The reveal is signed by the account that made the job a canary (its poster) or a
    plant (its worker), over ``canary.reveal_sign_bytes(chain id, job id, commitment)``."""
    if msg.planted:
        kind, role, controller = "plant", "worker", job.worker
    else:  # a module's job (a training's shard) is controlled by its record's owner
        kind, (controller, role) = "canary", k.controller_of(ctx, job)
    who = to_bech32(controller)
    how = (
        f"sign sha256('vcoin/reveal/v1' ‖ chain id {ctx.block.chain_id!r} ‖ u64 job id "
        f"{msg.job_id} ‖ commitment) with the secp256k1 key of job {msg.job_id}'s {role} "
        f"{who} and send it as controller_signature (vcoind: --controller KEY)"
    )
    if not msg.controller_signature:
        raise ErrNotController(
            f"a {kind} reveal must prove the revealer controls the job's {role}: {how}"
        )
    acc = k.accounts.get_account(ctx, controller)
    pubkey = None if acc is None else acc.pubkey
    if pubkey is None:
        raise ErrNotController(f"job {msg.job_id}'s {role} {who} has no public key on chain")
    if not verify_signature(
        pubkey,
        msg.controller_signature,
        canary.reveal_sign_bytes(ctx.block.chain_id, msg.job_id, c),
    ):
        raise ErrNotController(
            f"controller_signature does not verify with the key of job {msg.job_id}'s {role} "
            f"{who}: {how}"
        )


def _opened(
    ctx: Ctx, k: VerificationKeeper, msg: RevealCanary, oracle: bytes, job: JobView
) -> Canary:
    """The commitment ``msg`` opens: the revealer's own, from no later than the claim,
    signed by the job's controller."""
    claimed_height = job.claimed_height
    c = canary.commitment(msg.job_id, msg.expected_output_hash, msg.salt, msg.planted)
    rec = state.get_canary(ctx, c)
    if rec is None or rec.oracle != oracle:  # bound to the post (poster, input), not the id?
        bound = canary.post_commitment(
            job.poster, job.input_hash, msg.expected_output_hash, msg.salt, msg.planted
        )
        found = state.get_canary(ctx, bound)
        if found is not None:
            c, rec = bound, found
    kind = "plant" if msg.planted else "canary"
    if rec is None or rec.oracle != oracle:
        raise ErrNoCommitment(
            f"no {kind} commitment of {msg.sender} matches sha256(domain ‖ job {msg.job_id} ‖ "
            f"expected hash ‖ salt) nor sha256(domain ‖ poster ‖ input hash "
            f"{job.input_hash.hex()} ‖ expected hash ‖ salt): check the salt, the expected "
            "output hash and `planted`"
        )
    if rec.height > claimed_height:
        raise ErrCommittedTooLate(
            f"the commitment is from height {rec.height}, after job {msg.job_id} was "
            f"claimed at {claimed_height}; a {kind} must be committed before the claim"
        )
    _controlled(ctx, k, msg, job, c)
    return rec


def _reveal_plant(ctx: Ctx, k: VerificationKeeper, msg: RevealCanary, oracle: bytes) -> None:
    job = k.jobs.get_job(ctx, msg.job_id)
    if job is None:
        raise ErrJobNotFound(f"no job {msg.job_id}")
    if job.state not in (SETTLED, REJECTED):
        raise ErrNotRevealable(
            f"job {msg.job_id} is {job.state}; a plant is revealed once its result has a "
            "verdict, so no oracle still checking it learns what it is"
        )
    rec = _opened(ctx, k, msg, oracle, job)
    if msg.expected_output_hash == job.output_hash:
        raise ErrNothingPlanted(
            f"job {msg.job_id}'s result is the right answer the plant committed to: "
            "nothing wrong was planted, so passing it was right"
        )
    state.delete_canary(ctx, rec)
    k.reveal_plant(ctx, job.id, oracle)


def handle_reveal_canary(k: VerificationKeeper, ctx: Ctx, msg: RevealCanary) -> None:
    oracle = _active_oracle(ctx, k, msg)
    if msg.planted:
        _reveal_plant(ctx, k, msg, oracle)
        return
    job = k.jobs.get_job(ctx, msg.job_id)
    if job is None:
        raise ErrJobNotFound(f"no job {msg.job_id}")
    p = state.get_pending(ctx, msg.job_id)
    awaiting = job.state in (SUBMITTED, CHECKING) and (p is None or p.stage == CHECKING)
    if not awaiting:
        raise ErrNotRevealable(
            f"job {msg.job_id} is {job.state}; a canary is revealed after the worker "
            "submits and before the result has a verdict"
        )
    expected = msg.expected_output_hash
    rec = _opened(ctx, k, msg, oracle, job)
    state.delete_canary(ctx, rec)
    matched = expected == job.output_hash
    ctx.emit(events.canary_revealed(msg.job_id, oracle, matched))
    if p is None:  # not picked (or not drawn yet): a pending record starts here
        p = Pending(job.id, job.worker, job.submitted_height, SUBMITTED, ctx.block.height)
    k.conclude(ctx, p, PASS if matched else FAIL, "canary", accusers=(oracle,))


def make_reveal_canary(k: VerificationKeeper) -> Handler[RevealCanary]:
    return partial(handle_reveal_canary, k)


def handle_attest(k: VerificationKeeper, ctx: Ctx, msg: Attest) -> None:
    oracle = _active_oracle(ctx, k, msg)
    pubkey = k.staking.oracle_pubkey(ctx, oracle)
    if pubkey is None:
        raise ErrNoOracleKey(f"{msg.sender} registered no ed25519 key with its oracle bond")
    job = k.jobs.get_job(ctx, msg.job_id)
    if job is None:
        raise ErrJobNotFound(f"no job {msg.job_id}")
    p = state.get_pending(ctx, msg.job_id)
    if p is None or p.stage != CHECKING:
        now = "past its verdict" if p is not None and p.stage == DECIDED else job.state
        raise ErrNotPicked(
            f"job {msg.job_id} is {now}: only jobs picked for checking "
            "take attestations, until their verdict"
        )
    if state.get_attestation(ctx, msg.job_id, oracle) is not None:
        raise ErrAlreadyAttested(f"{msg.sender} already attested job {msg.job_id}")
    params = state.get_params(ctx)
    if msg.verdict == PASS and msg.similarity_bps < params.similarity_threshold_bps:
        raise ErrInvalidAttestation(
            f"a pass needs similarity ≥ {params.similarity_threshold_bps} bps; "
            f"got {msg.similarity_bps}"
        )
    evidence = msg.evidence_hash
    ok = attestation.verify(
        pubkey,
        msg.signature,
        ctx.block.chain_id,
        msg.job_id,
        msg.verdict,
        msg.similarity_bps,
        evidence,
    )
    if not ok:
        raise ErrBadSignature(
            f"the signature does not verify with {to_bech32(oracle)}'s ed25519 key over "
            f"(chain {ctx.block.chain_id}, job, verdict, similarity, evidence hash)"
        )
    stake = k.staking.bonded(ctx, oracle, ORACLE)
    a = Attestation(
        msg.job_id, oracle, msg.verdict, msg.similarity_bps, evidence, stake, ctx.block.height
    )
    state.set_attestation(ctx, a)
    ctx.emit(events.attested(a.job_id, oracle, a.verdict, a.similarity_bps, stake))
    k.after_attestation(ctx, p)


def make_attest(k: VerificationKeeper) -> Handler[Attest]:
    return partial(handle_attest, k)
