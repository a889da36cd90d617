"""``vcoind tx verification …`` and ``vcoind query verification …`` (see chain/cli/__init__.py).

The oracle daemon sends these messages itself; the commands are for operators
and for trying the protocol by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from chain.cli.common import (
    CliError,
    Env,
    add_tx_flags,
    broadcast,
    fmt_vcn,
    parse_amount_avcn,
    parse_hex,
)
from chain.client import NodeClient, QueryFailed
from chain.crypto import from_bech32
from modules.verification import attestation, canary
from modules.verification import msgs as vm
from modules.verification.records import VERDICTS


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("verification", help="canaries and attestations (oracles)")
    sub = p.add_subparsers(dest="verification_cmd", required=True, metavar="COMMAND")

    commit = sub.add_parser(
        "commit-canary",
        help="commit to a canary job's expected output before it is claimed",
        description="Sends sha256('vcoin/canary/v1' ‖ job id ‖ expected output hash ‖ salt); "
        "the job id stays hidden until the reveal. Or, with --poster and --input-hash instead "
        "of the job id, sha256('vcoin/canary/v2' ‖ poster ‖ input hash ‖ expected output hash "
        "‖ salt): bound to the post, so it can be sent before the job is posted, at any time. "
        "Keep the salt: the reveal needs it.",
    )
    commit.add_argument("job_id", type=int, nargs="?", help="the job's id (or --poster)")
    commit.add_argument(
        "--poster",
        metavar="ADDRESS",
        help="bind to the post: the account (address or key name) that will post the job",
    )
    commit.add_argument(
        "--input-hash", metavar="HEX", help="bind to the post: the job's input sha256, hex"
    )
    commit.add_argument("--expected-output-hash", required=True)
    commit.add_argument("--salt", required=True, help="16..64 random bytes, hex")
    commit.add_argument(
        "--planted",
        action="store_true",
        help="a plant's commitment (domain 'vcoin/plant/v1'): the expected hash is the right "
        "answer and the result your worker submits will be wrong; it looks like a canary's",
    )
    add_tx_flags(commit)
    commit.set_defaults(func=run_commit)

    reveal = sub.add_parser(
        "reveal-canary",
        help="reveal a canary after the worker submitted: a mismatch is cheating",
        description="Decides the job at once: its output matches the committed expectation "
        "(settled) or not (rejected, the worker punished).",
    )
    reveal.add_argument("job_id", type=int)
    reveal.add_argument("--expected-output-hash", required=True)
    reveal.add_argument("--salt", required=True)
    reveal.add_argument(
        "--planted",
        action="store_true",
        help="reveal a plant once its result has a verdict: every oracle that passed the "
        "wrong result is punished as a cheater",
    )
    reveal.add_argument(
        "--controller",
        metavar="KEY",
        help="key name of the job's poster (a canary) or, with --planted, of its worker: "
        "it signs the reveal, proving you made the job a canary or a plant (required)",
    )
    add_tx_flags(reveal)
    reveal.set_defaults(func=run_reveal)

    attest = sub.add_parser(
        "attest",
        help="attest a checked job's result (active oracles)",
        description="Signs (chain id, job id, verdict, similarity, evidence hash) with the "
        "oracle's ed25519 key and sends it. A pass needs similarity at or over the "
        "threshold param (9500 bps).",
    )
    attest.add_argument("job_id", type=int)
    attest.add_argument("verdict", choices=VERDICTS)
    attest.add_argument("--similarity-bps", type=int, required=True, help="0..10000")
    attest.add_argument("--evidence-hash", required=True, help="sha256 of the evidence, hex")
    attest.add_argument(
        "--ed25519-key-file", type=Path, required=True, help="file with the 32-byte seed, hex"
    )
    add_tx_flags(attest)
    attest.set_defaults(func=run_attest)


def run_commit(args: argparse.Namespace, env: Env) -> int:
    expected = parse_hex(args.expected_output_hash, "--expected-output-hash", 32)
    by_post = args.poster is not None or args.input_hash is not None
    if (args.job_id is None) != by_post or by_post and None in (args.poster, args.input_hash):
        raise CliError(
            "give the job id, or --poster and --input-hash (to commit before the job is "
            "posted), not both"
        )
    try:
        salt = parse_hex(args.salt, "--salt")
        if by_post:
            poster = from_bech32(env.resolve_address(args.poster))
            input_hash = parse_hex(args.input_hash, "--input-hash", 32)
            c = canary.post_commitment(poster, input_hash, expected, salt, args.planted)
        else:
            c = canary.commitment(args.job_id, expected, salt, args.planted)
    except ValueError as e:
        raise CliError(str(e)) from e
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = vm.MsgCommitCanary(oracle=key.bech32, commitment=c.hex())
    return broadcast(env, args, key, [msg], show="CanaryCommitted.commitment")


def run_reveal(args: argparse.Namespace, env: Env) -> int:
    role = "worker" if args.planted else "poster"
    if not args.controller:
        raise CliError(
            f"--controller KEY is required: the key of the job's {role} signs the reveal "
            f"(the chain takes a {'plant' if args.planted else 'canary'} reveal only from "
            f"whoever controls the job's {role} account)"
        )
    expected = parse_hex(args.expected_output_hash, "--expected-output-hash", 32)
    salt = parse_hex(args.salt, "--salt")
    key = env.signing_key(args.from_key, args.passphrase_file)
    controller = env.signing_key(args.controller, args.passphrase_file)
    client = env.client()
    try:
        by_id = canary.commitment(args.job_id, expected, salt, args.planted)
        # the commitment on chain is bound to the job id, or else to the post (poster, input)
        post = None if _on_chain(client, by_id) else _post_of(client, args.job_id)
        sig = canary.sign_reveal(
            controller, client.chain_id(), args.job_id, expected, salt, args.planted, post=post
        )
    except ValueError as e:
        raise CliError(str(e)) from e
    msg = vm.MsgRevealCanary(
        oracle=key.bech32,
        job_id=args.job_id,
        expected_output_hash=args.expected_output_hash,
        salt=args.salt,
        planted=args.planted,
        controller_signature=sig,
    )
    show = "PlantRevealed.caught" if args.planted else "CanaryRevealed.matched"
    return broadcast(env, args, key, [msg], show=show)


def _on_chain(client: NodeClient, commitment: bytes) -> bool:
    try:
        client.query("verification", "canary", {"commitment": commitment.hex()})
    except QueryFailed:
        return False
    return True


def _post_of(client: NodeClient, job_id: int) -> tuple[bytes, bytes]:
    """The job's poster and input hash, which a commitment bound to its post covers."""
    job = client.query("jobs", "job", {"id": job_id})
    return from_bech32(str(job["poster"])), bytes.fromhex(str(job["input_hash"]))


def run_attest(args: argparse.Namespace, env: Env) -> int:
    seed = parse_hex(args.ed25519_key_file.read_text().strip(), "the ed25519 key file", 32)
    evidence = parse_hex(args.evidence_hash, "--evidence-hash", 32)
    if not 0 <= args.similarity_bps <= 10_000:
        raise CliError("--similarity-bps is 0..10000")
    sig = attestation.sign(
        SigningKey(seed),
        env.client().chain_id(),
        args.job_id,
        args.verdict,
        args.similarity_bps,
        evidence,
    )
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = vm.MsgAttest(
        oracle=key.bech32,
        job_id=args.job_id,
        verdict=args.verdict,
        similarity_bps=args.similarity_bps,
        evidence_hash=evidence.hex(),
        signature=sig,
    )
    return broadcast(env, args, key, [msg])


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("verification", help="draws, checks, attestations, canaries")
    sub = p.add_subparsers(dest="verification_query", required=True, metavar="WHAT")
    st = sub.add_parser("status", help="where a job's result stands: stage, due, tally")
    st.add_argument("job_id", type=int)
    st.set_defaults(func=run_status)
    ch = sub.add_parser("checking", help="jobs waiting for oracle attestations")
    ch.add_argument("--limit", type=int, default=100)
    ch.add_argument("--after", type=int, default=0)
    ch.set_defaults(func=run_checking)
    c = sub.add_parser("canary", help="an open canary commitment")
    c.add_argument("commitment")
    c.set_defaults(func=run_canary)
    r = sub.add_parser("sample-rate", help="the chance a worker's result is checked now")
    r.add_argument("address", help="address or key name")
    r.set_defaults(func=run_rate)
    rk = sub.add_parser(
        "risk",
        help="a worker's audit rate for a job price, the detection per faked result "
        "and the expected value of faking it",
    )
    rk.add_argument("worker", help="address or key name")
    rk.add_argument("price", help="the job's price, e.g. 2VCN")
    rk.add_argument(
        "--task",
        default="",
        metavar="TYPE",
        help="the job's task type (text-generation, embedding, lora-train, ...): the "
        "types in the detection_floor_tasks param are drawn at the detection floor too",
    )
    rk.add_argument(
        "--spec",
        default="",
        metavar="JSON",
        help='the job\'s spec, e.g. \'{"params": {"temperature": 0.7}}\': sampled text is '
        "re-executed in full when checked, so it has no detection floor (default: greedy)",
    )
    rk.set_defaults(func=run_risk)


def _status_text(out: dict[str, Any]) -> str:
    p = out["pending"]
    head = f"job {out['job_id']}: " + (
        "no verdict pending" if p is None else f"{p['stage']} until height {p['due']}"
    )
    lines = [head]
    for a in out["attestations"]:
        lines.append(
            f"  {a['oracle']}: {a['verdict']} ({a['similarity_bps']} bps, stake {a['stake']})"
        )
    return "\n".join(lines)


def run_status(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("verification", "status", {"job_id": args.job_id})
    env.emit(out, lambda: _status_text(out))


def run_checking(args: argparse.Namespace, env: Env) -> None:
    req = {"limit": args.limit, "after": args.after}
    out = env.client().query("verification", "checking", req)
    env.emit(
        out,
        lambda: (
            "\n".join(f"{p['job_id']:>8}  due {p['due']}  {p['worker']}" for p in out["pending"])
            or "nothing waiting"
        ),
    )


def run_canary(args: argparse.Namespace, env: Env) -> None:
    env.emit(env.client().query("verification", "canary", {"commitment": args.commitment}))


def run_rate(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query(
        "verification", "sample_rate", {"address": env.resolve_address(args.address)}
    )
    env.emit(out, lambda: f"score {out['score_bps'] / 100:.2f}; checked {out['rate_bps'] / 100}%")


def _risk_text(o: dict[str, Any]) -> str:
    ev = int(o["expected_value"])
    verdict = "cheating does not pay" if ev < 0 else "CHEATING PAYS at this rate (the cap binds)"
    task = o.get("task_type") or "any task type"
    return "\n".join(
        [
            f"worker {o['worker']}: score {int(o['score_bps']) / 100:.2f}, "
            f"stake {fmt_vcn(int(o['stake']))}, {o['age_jobs']} results; {task}",
            f"  sample rate        {int(o['rate_bps']) / 100:.2f} % ({o['term']})",
            f"  detection / fake   {int(o['detection_bps']) / 100:.2f} % "
            f"(needed > {(int(o['required_bps']) - 1) / 100:.2f} %)",
            f"  stake at risk      {fmt_vcn(int(o['stake_at_risk']))} per catch "
            f"(slash in {o['catches_to_slash']} catches)",
            f"  gain of one fake   {fmt_vcn(int(o['gain']))} at price {fmt_vcn(int(o['price']))}",
            f"  expected value     {'-' if ev < 0 else ''}{fmt_vcn(abs(ev))}: {verdict}",
        ]
    )


def run_risk(args: argparse.Namespace, env: Env) -> None:
    req = {
        "worker": env.resolve_address(args.worker),
        "price": str(parse_amount_avcn(args.price, "price")),
    }
    if args.task:
        req["task_type"] = args.task
    if args.spec:
        req["spec"] = args.spec
    out = env.client().query("verification", "risk", req)
    env.emit(out, lambda: _risk_text(out))
