"""``vcoind tx jobs …`` and ``vcoind query jobs …`` (see chain/cli/__init__.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chain.cli.common import (
    CliError,
    Env,
    add_tx_flags,
    broadcast,
    fmt_vcn,
    parse_amount_avcn,
)
from chain.coins import DISPLAY
from modules.jobs import msgs as jm
from modules.jobs import receipt
from modules.jobs.params import TASK_TYPES
from modules.jobs.records import STATES


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


# -- tx ----------------------------------------------------------------------------
def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("jobs", help="post, claim, submit and cancel compute jobs")
    sub = p.add_subparsers(dest="jobs_cmd", required=True, metavar="COMMAND")

    post = sub.add_parser(
        "post",
        help="post a job and escrow its max price",
        description="Post a job for MODEL. The max price is escrowed at once; a claim fixes "
        "the price at the claiming worker's ask (its price floor) and the rest comes back at "
        "settlement. Give the input inline (--input or --input-file, up to the chain's "
        "max_inline_input_bytes) or as the sha256 of an artifact (--input-hash). Prints the "
        "job id; follow it with `vcoind query jobs show ID`.",
    )
    post.add_argument("model", help="a registered model id (`vcoind query jobs models`)")
    post.add_argument("--task-type", required=True, choices=TASK_TYPES)
    post.add_argument("--max-price", required=True, help="e.g. 2VCN")
    src = post.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="inline input text (e.g. the prompt)")
    src.add_argument("--input-file", type=Path, help="inline input read from a file")
    src.add_argument("--input-hash", help="sha256 (hex) of an input in the artifact store")
    post.add_argument("--spec", default="", help="runtime options as a JSON object")
    post.add_argument("--priority", type=int, default=0, help="0..9; breaks price ties")
    post.add_argument("--claim-blocks", type=int, default=0, help="expire unclaimed after N")
    post.add_argument("--result-blocks", type=int, default=0, help="result due N after claim")
    post.add_argument("--min-gpu-memory-mib", type=int, default=0)
    post.add_argument("--min-gpu-count", type=int, default=0)
    post.add_argument("--gpu-model", default="", help="e.g. H100 (matched in the GPU name)")
    add_tx_flags(post)
    post.set_defaults(func=run_post)

    def job_cmd(name: str, help_: str, desc: str) -> argparse.ArgumentParser:
        c: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=desc)
        c.add_argument("job_id", type=int)
        return c

    cancel = job_cmd(
        "cancel", "cancel a queued job", "Refunds the whole escrow; only before a claim."
    )
    add_tx_flags(cancel)
    cancel.set_defaults(func=run_cancel)

    claim = job_cmd(
        "claim",
        "claim a queued job as a worker",
        "Needs a registered worker with an active worker bond whose capabilities fit the job "
        "and a free slot; `vcoind query jobs why ID` says who can claim it.",
    )
    add_tx_flags(claim)
    claim.set_defaults(func=run_claim)

    submit = job_cmd(
        "submit",
        "submit the result of a claimed job",
        "Submits OUTPUT_HASH with an execution receipt signed by the same key; the input and "
        "model hashes default to the job's and its model's.",
    )
    submit.add_argument("--output-hash", required=True, help="sha256 (hex) of the output")
    submit.add_argument("--artifact-ref", default="", help="where the output can be fetched")
    submit.add_argument("--compute-units", type=int, required=True)
    submit.add_argument("--image-digest", required=True, help="the runtime image digest")
    submit.add_argument("--model-hash", help="default: the model's registered weights")
    submit.add_argument("--input-hash", help="default: the job's input hash")
    add_tx_flags(submit)
    submit.set_defaults(func=run_submit)

    release = job_cmd(
        "release",
        "give a claimed job back",
        "With --retry the job is requeued (it counts as one of its attempts); without, the "
        "job cannot run (bad spec, input or weights) and fails with a full refund.",
    )
    release.add_argument("--reason", default="")
    release.add_argument("--retry", action="store_true")
    add_tx_flags(release)
    release.set_defaults(func=run_release)

    worker = sub.add_parser(
        "register-worker",
        help="register or update a worker's capabilities",
        description="Registers what this worker runs. Claims also need a worker bond "
        "(`vcoind tx staking bond worker …`).",
    )
    worker.add_argument("--models", required=True, help="comma-separated model ids")
    worker.add_argument("--task-types", required=True, help=f"comma-separated: {TASK_TYPES}")
    worker.add_argument("--gpu-model", default="", help="GPU name (empty: CPU only)")
    worker.add_argument("--memory-mib", type=int, default=0, help="memory of one GPU")
    worker.add_argument("--gpu-count", type=int, default=0)
    worker.add_argument("--price-floor", default="0VCN", help="the worker's ask per job")
    worker.add_argument("--max-concurrent", type=int, default=1)
    add_tx_flags(worker)
    worker.set_defaults(func=run_register_worker)

    model = sub.add_parser(
        "register-model",
        help="register or update a model (platform authority only)",
        description="Adds MODEL_ID to the registry with its weights and config hashes.",
    )
    model.add_argument("model_id")
    model.add_argument("--task-types", required=True, help=f"comma-separated: {TASK_TYPES}")
    model.add_argument("--weights-sha256", required=True)
    model.add_argument("--config-sha256", required=True)
    model.add_argument("--min-gpu-memory-mib", type=int, default=0)
    model.add_argument("--description", default="")
    add_tx_flags(model)
    model.set_defaults(func=run_register_model)


def run_post(args: argparse.Namespace, env: Env) -> int:
    inline = b""
    if args.input is not None:
        inline = args.input.encode()
    elif args.input_file is not None:
        inline = args.input_file.read_bytes()
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = jm.MsgPostJob(
        poster=key.bech32,
        task_type=args.task_type,
        model=args.model,
        input_hash=args.input_hash or "",
        inline_input=inline,
        spec=args.spec,
        max_price=str(parse_amount_avcn(args.max_price, "--max-price")),
        priority=args.priority,
        claim_blocks=args.claim_blocks,
        result_blocks=args.result_blocks,
        min_gpu_memory_mib=args.min_gpu_memory_mib,
        min_gpu_count=args.min_gpu_count,
        gpu_model=args.gpu_model,
    )
    return broadcast(env, args, key, [msg], show="JobPosted.job_id")


def run_cancel(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    return broadcast(env, args, key, [jm.MsgCancelJob(poster=key.bech32, job_id=args.job_id)])


def run_claim(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = jm.MsgClaimJob(worker=key.bech32, job_id=args.job_id)
    return broadcast(env, args, key, [msg], show="JobClaimed.result_deadline")


def run_submit(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    job = env.client().query("jobs", "job", {"id": args.job_id})
    model_hash = args.model_hash
    if not model_hash:
        model_hash = env.client().query("jobs", "model", {"id": job["model"]})["weights_sha256"]
    input_hash = args.input_hash or job["input_hash"]
    try:
        sig = receipt.sign(
            key,
            env.client().chain_id(),
            args.job_id,
            args.image_digest,
            bytes.fromhex(model_hash),
            bytes.fromhex(input_hash),
            bytes.fromhex(args.output_hash),
        )
    except ValueError as e:
        raise CliError(f"hashes must be 64 hex characters: {e}") from e
    msg = jm.MsgSubmitResult(
        worker=key.bech32,
        job_id=args.job_id,
        output_hash=args.output_hash,
        artifact_ref=args.artifact_ref,
        compute_units=args.compute_units,
        receipt=jm.ExecutionReceipt(
            image_digest=args.image_digest,
            model_hash=model_hash,
            input_hash=input_hash,
            output_hash=args.output_hash,
            signature=sig,
        ),
    )
    return broadcast(env, args, key, [msg])


def run_release(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = jm.MsgReleaseJob(
        worker=key.bech32, job_id=args.job_id, reason=args.reason, retry=args.retry
    )
    return broadcast(env, args, key, [msg])


def run_register_worker(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = jm.MsgRegisterWorker(
        worker=key.bech32,
        gpu_model=args.gpu_model,
        memory_mib=args.memory_mib,
        gpu_count=args.gpu_count,
        task_types=_csv(args.task_types),
        models=_csv(args.models),
        price_floor=str(parse_amount_avcn(args.price_floor, "--price-floor")),
        max_concurrent=args.max_concurrent,
    )
    return broadcast(env, args, key, [msg])


def run_register_model(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = jm.MsgRegisterModel(
        authority=key.bech32,
        model_id=args.model_id,
        task_types=_csv(args.task_types),
        weights_sha256=args.weights_sha256,
        config_sha256=args.config_sha256,
        min_gpu_memory_mib=args.min_gpu_memory_mib,
        description=args.description,
    )
    return broadcast(env, args, key, [msg])


# -- query ---------------------------------------------------------------------------
def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("jobs", help="jobs, the queue, workers and models")
    sub = p.add_subparsers(dest="jobs_query", required=True, metavar="WHAT")
    show = sub.add_parser("show", help="one job: state, price, worker, result, settlement")
    show.add_argument("job_id", type=int)
    show.set_defaults(func=run_show)
    why = sub.add_parser("why", help="why a job is not being claimed")
    why.add_argument("job_id", type=int)
    why.set_defaults(func=run_why)
    ls = sub.add_parser("list", help="jobs by state, poster or worker, a page at a time")
    g = ls.add_mutually_exclusive_group(required=True)
    g.add_argument("--state", choices=STATES)
    g.add_argument("--poster", help="address or key name")
    g.add_argument("--worker", help="address or key name")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--after", default="", help="the next_after of the previous page")
    ls.set_defaults(func=run_list)
    q = sub.add_parser("queue", help="the best open jobs, best first")
    q.add_argument("--limit", type=int, default=20)
    q.set_defaults(func=run_queue)
    w = sub.add_parser("worker", help="a registered worker's capabilities and load")
    w.add_argument("address", help="address or key name")
    w.set_defaults(func=run_worker)
    ws = sub.add_parser("workers", help="registered workers, a page at a time")
    ws.add_argument("--limit", type=int, default=50)
    ws.add_argument("--after", default="")
    ws.set_defaults(func=run_workers)
    ms = sub.add_parser("models", help="the model registry")
    ms.set_defaults(func=run_models)
    m = sub.add_parser("model", help="one registered model")
    m.add_argument("model_id")
    m.set_defaults(func=run_model)
    split = sub.add_parser("settlement", help="how a price is split on settlement now")
    split.add_argument("price", help="e.g. 2VCN")
    split.set_defaults(func=run_split)


def _vcn(n: Any) -> str:
    return f"{fmt_vcn(int(n))} {DISPLAY}"


def _job_text(j: dict[str, Any]) -> str:
    lines = [
        f"job {j['id']}: {j['state']}  ({j['task_type']} on {j['model']})",
        f"  poster   {j['poster']}",
        f"  price    max {_vcn(j['max_price'])}"
        + (f", agreed {_vcn(j['price'])}" if int(j["price"]) else ""),
    ]
    if j["worker"]:
        lines.append(f"  worker   {j['worker']}")
    if j.get("inline_text"):
        lines.append(f"  input    {j['inline_text'][:80]!r}")
    lines.append(f"  input#   {j['input_hash']}")
    if j["output_hash"]:
        lines.append(f"  output#  {j['output_hash']}  {j['artifact_ref']}")
    if j["state"] == "settled":
        lines.append(
            f"  settled  worker paid {_vcn(j['paid'])}, burned {_vcn(j['burned'])}, "
            f"refunded {_vcn(j['refunded'])} at height {j['finished_height']}"
        )
    elif int(j["refunded"]):
        lines.append(f"  refunded {_vcn(j['refunded'])} at height {j['finished_height']}")
    if j["last_error"]:
        lines.append(f"  note     {j['last_error']}")
    return "\n".join(lines)


def run_show(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("jobs", "job", {"id": args.job_id})
    env.emit(out, lambda: _job_text(out))


def run_why(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("jobs", "why_unclaimed", {"id": args.job_id})
    env.emit(out, lambda: "\n".join(out["reasons"]))


def _list_text(jobs: list[dict[str, Any]]) -> str:
    return (
        "\n".join(
            f"{j['id']:>8}  {j['state']:<9}  {j['model']:<16}  max {_vcn(j['max_price'])}"
            for j in jobs
        )
        or "no jobs"
    )


def run_list(args: argparse.Namespace, env: Env) -> None:
    req: dict[str, Any] = {"limit": args.limit, "after": args.after}
    if args.state:
        req["state"] = args.state
    elif args.poster:
        req["poster"] = env.resolve_address(args.poster)
    else:
        req["worker"] = env.resolve_address(args.worker)
    if not args.after:
        req.pop("after")
    out = env.client().query("jobs", "jobs", req)
    env.emit(out, lambda: _list_text(out["jobs"]))


def run_queue(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("jobs", "queue", {"limit": args.limit})
    env.emit(out, lambda: _list_text(out["jobs"]))


def run_worker(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("jobs", "worker", {"address": env.resolve_address(args.address)})
    env.emit(out)


def run_workers(args: argparse.Namespace, env: Env) -> None:
    req: dict[str, Any] = {"limit": args.limit}
    if args.after:
        req["after"] = args.after
    env.emit(env.client().query("jobs", "workers", req))


def run_models(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("jobs", "models", {})
    env.emit(
        out,
        lambda: (
            "\n".join(
                f"{m['id']:<20} {','.join(m['task_types']):<28} ≥{m['min_gpu_memory_mib']} MiB"
                + (f"  owner {m['owner']}" if m.get("owner") else "")
                for m in out["models"]
            )
            or "no models"
        ),
    )


def run_model(args: argparse.Namespace, env: Env) -> None:
    env.emit(env.client().query("jobs", "model", {"id": args.model_id}))


def run_split(args: argparse.Namespace, env: Env) -> None:
    price = parse_amount_avcn(args.price, "price")
    out = env.client().query("jobs", "settlement_preview", {"price": str(price)})
    env.emit(
        out,
        lambda: (
            f"burned {_vcn(out['burned'])}; treasury gets {_vcn(out['to_treasury'])} "
            f"and pays the worker {_vcn(out['worker'])}"
        ),
    )
