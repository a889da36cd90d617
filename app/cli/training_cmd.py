"""``vcoind tx training post|cancel`` and ``vcoind query training show|adapter``:
the user's side of distributed LoRA training (issue 16).

How a training runs (the chain side is ``modules/training``): the poster uploads a JSONL
dataset and its manifest (one sha256 per record) to the node's artifact store and posts
``MsgPostTraining``; the chain escrows ``rounds × (shards × price_per_shard +
aggregate_price)`` at once. Each round, the training module posts one ordinary job of the
jobs module per shard (task ``lora-shard``: train the round's global adapter on shard i
for ``steps`` steps) and, when every shard has a result or was dropped, one
``lora-aggregate`` job (FFA-LoRA: A frozen from the seed, B averaged weighted by shard
size, bit for bit on any CPU). Each shard job settles on its own verdict like any job
(sampled re-runs, 10 % burn, 90 % treasury, the worker paid), so payment is released
per round; the aggregate is always re-computed by an oracle. The last round's aggregate
is the final adapter.

* ``post`` reads the dataset (each line a ``{"text"}``, ``{"prompt","completion"}`` or
  ``{"messages"}`` record, as the gateway's ``/v1/files`` takes; a bad line is named by
  its number), builds the manifest with ``compute.training.manifest.build_manifest``,
  checks what the chain would refuse (the model serves ``lora-train``, no more shards than
  records, the balance covers the escrow; then the whole post through the chain's
  simulation, which holds the config to the runtime's limits) before anything is
  uploaded, uploads the two blobs (skipping one the store holds; a progress line on a
  terminal) with a token signed by ``--from``, then posts and prints the training id and
  the escrow.
* ``show`` prints each round: its global adapter in and out, each shard's job, worker,
  attempts, state, payment (the settled job's ``paid``, as ``vcoind query jobs show``
  reads it) and loss curve (the ``train_losses`` metadata of the shard's output, read from
  the safetensors header only), the aggregate job, and the final adapter.
* ``adapter`` downloads the final adapter, checks its sha256 and writes a peft folder
  (``compute.training.adapter.write_peft_dir``) that ``PeftModel.from_pretrained`` loads.

Reads of private blobs carry a token signed by ``--from`` or, without it, by the
keystore's key of the training's poster when that key needs no passphrase.

It lives in ``app/cli`` (not ``modules/training/cli.py``) for the reason
``models_cmd.py`` does: it builds the manifest and the peft folder with ``compute/``
code, which a module may not import (``tests/arch``).
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.models_cmd import ARTIFACTS_ENV, REST_PORT, Progress, artifact_client, artifacts_url
from chain.cli.common import CliError, Env, add_tx_flags, broadcast, fmt_vcn, parse_amount_avcn
from chain.coins import DISPLAY

if TYPE_CHECKING:
    from chain.artifacts import ArtifactClient
    from chain.crypto import PrivateKey

AGGREGATION = "ffa-mean"
TRAIN_TASK = "lora-train"
SPARK = "▁▂▃▄▅▆▇█"
MAX_HEADER = 1 << 20  # a safetensors header larger than this is not an adapter's


def _artifacts_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--artifacts",
        help=f"artifact store URL (env {ARTIFACTS_ENV}; default: the node's host, port "
        f"{REST_PORT})",
    )


# -- the parsers ---------------------------------------------------------------------
def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    if "training" in subparsers.choices:  # a module plugin of the name came first
        return
    p = subparsers.add_parser("training", help="post or cancel a distributed LoRA training")
    sub = p.add_subparsers(dest="training_cmd", required=True, metavar="COMMAND")
    post = sub.add_parser(
        "post",
        help="upload a JSONL dataset and post a training; escrows its whole budget",
        description="Uploads FILE.jsonl and its manifest to the node's artifact store (a "
        "progress line on a terminal) and posts a training of --model on it: --shards "
        "workers each train a LoRA adapter on their shard for --steps steps a round, the "
        "shard updates are averaged (FFA-LoRA) and the next round starts from the average. "
        "The escrow is rounds × (shards × --price-per-shard + --aggregate-price); each shard "
        "job pays its worker when it settles. Follow it with `vcoind query training show ID`.",
    )
    post.add_argument("--model", required=True, help="a registered model that serves lora-train")
    post.add_argument("--dataset", required=True, type=Path, metavar="FILE.jsonl")
    post.add_argument("--shards", type=int, required=True, help="workers a round (N)")
    post.add_argument("--rounds", type=int, required=True, help="rounds (R)")
    post.add_argument("--steps", type=int, required=True, help="local steps per shard-round")
    post.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    post.add_argument("--alpha", type=int, default=16, help="LoRA alpha (default 16)")
    post.add_argument(
        "--targets",
        default="q_proj,v_proj",
        help="comma-separated target modules (default q_proj,v_proj: LLaMA-shaped, tiny-lm)",
    )
    post.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    post.add_argument("--batch-size", type=int, default=4)
    post.add_argument("--seed", type=int, default=0, help="draws the frozen A (default 0)")
    post.add_argument("--max-length", type=int, default=64, help="tokens per example")
    post.add_argument("--price-per-shard", required=True, help="per shard-round, e.g. 1VCN")
    post.add_argument("--aggregate-price", required=True, help="per round, e.g. 0.1VCN")
    post.add_argument(
        "--shard-blocks", type=int, default=0, help="a shard's deadline (default: the chain's)"
    )
    _artifacts_flag(post)
    post.add_argument("--quiet", "-q", action="store_true", help="no upload progress")
    add_tx_flags(post)
    # a post writes the training and its first round's jobs: simulate rather than guess
    post.set_defaults(func=run_post, gas="auto")

    cancel = sub.add_parser(
        "cancel",
        help="cancel a running training",
        description="Stops a training; the rounds not yet spent come back from the escrow.",
    )
    cancel.add_argument("training_id", type=int)
    add_tx_flags(cancel)
    cancel.set_defaults(func=run_cancel, gas="auto")  # cancels the round's open jobs


def _reader_flags(p: argparse.ArgumentParser) -> None:
    _artifacts_flag(p)
    p.add_argument(
        "--from",
        dest="from_key",
        metavar="KEY",
        help="key that signs the artifact reads (default: the poster's key, if here)",
    )
    p.add_argument("--passphrase-file", help="the key's passphrase")


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    if "training" in subparsers.choices:  # a module plugin of the name came first
        return
    p = subparsers.add_parser("training", help="distributed LoRA trainings")
    sub = p.add_subparsers(dest="training_query", required=True, metavar="WHAT")
    show = sub.add_parser(
        "show",
        help="one training: rounds, loss curves, shards, workers, payments, the adapter",
    )
    show.add_argument("training_id", type=int)
    _reader_flags(show)
    show.set_defaults(func=run_show)
    ad = sub.add_parser(
        "adapter",
        help="download the final adapter as a peft folder",
        description="Downloads the training's final adapter, checks its sha256, and writes "
        "DIR with adapter_config.json and adapter_model.safetensors: "
        "peft.PeftModel.from_pretrained(base_model, DIR) loads it.",
    )
    ad.add_argument("training_id", type=int)
    ad.add_argument("--out", required=True, type=Path, metavar="DIR")
    _reader_flags(ad)
    ad.set_defaults(func=run_adapter)


# -- the dataset ---------------------------------------------------------------------
def read_dataset(path: Path) -> tuple[bytes, bytes, int]:
    """(the JSONL, its manifest as stored, its number of records); every line is checked
    by ``compute.training.manifest.build_manifest`` and a bad one named by its number."""
    from compute.training.manifest import build_manifest

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as e:
        raise CliError(f"{path}: cannot read it: {e}") from e
    try:
        manifest, records = build_manifest(data)
    except ValueError as e:
        raise CliError(f"{path}: {e}; nothing was uploaded") from None
    return data, manifest, records


# -- post and cancel ----------------------------------------------------------------------
def escrow_of(rounds: int, shards: int, per_shard: int, aggregate: int) -> int:
    return rounds * (shards * per_shard + aggregate)


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be at least 1")


def _precheck(env: Env, args: argparse.Namespace, owner: str, records: int, escrow: int) -> None:
    """What the chain would refuse, refused before anything is uploaded."""
    from chain.client import NodeError

    c = env.client()
    try:
        model = c.query("jobs", "model", {"id": args.model})
    except NodeError as e:
        if "cannot reach" in str(e):
            raise
        raise CliError(
            f"model {args.model!r} is not registered ({e}); nothing was uploaded"
        ) from None
    if TRAIN_TASK not in (model.get("task_types") or []):
        raise CliError(
            f"model {args.model!r} does not serve {TRAIN_TASK} (it serves "
            f"{', '.join(model.get('task_types') or [])}); nothing was uploaded"
        )
    if args.shards > records:
        raise CliError(
            f"--shards {args.shards} is more than the dataset's {records} records; "
            "nothing was uploaded"
        )
    have = c.balance(owner)
    if have < escrow:
        raise CliError(
            f"the training escrows {fmt_vcn(escrow)} {DISPLAY} (plus the tx fee); {owner} has "
            f"{fmt_vcn(have)} {DISPLAY}; nothing was uploaded"
        )


def upload_blobs(client: ArtifactClient, blobs: list[tuple[str, Path]], progress: Progress) -> int:
    """Upload each (sha256, file) the store does not hold for us; returns how many were."""
    kept = 0
    for digest, path in blobs:
        if client.readable(digest):
            progress.advance(path.stat().st_size)
            kept += 1
            continue
        client.upload_file(path, digest=digest, on_chunk=progress.advance)
    progress.finish()
    return kept


def _simulate(env: Env, args: argparse.Namespace, key: PrivateKey, msg: Any) -> None:
    """Run the post through the chain's simulation before anything is uploaded: whatever
    its handler would refuse (the config's limits, a model without lora-train, the
    balance) is refused here, with the chain's words. With ``--gas auto`` its gas is kept
    for the broadcast."""
    from chain.client import QueryFailed

    try:
        gas = env.client().estimate_gas(key, [msg], memo=args.memo, adjustment=args.gas_adjustment)
    except QueryFailed as e:
        raise CliError(f"the chain would refuse this training: {e}; nothing was uploaded") from e
    if args.gas == "auto":
        args.gas = gas


def run_post(args: argparse.Namespace, env: Env) -> int:
    import hashlib

    from modules.training import tx_pb2 as tm

    _positive(args, "shards", "rounds", "steps", "rank", "alpha", "batch_size", "max_length")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets:
        raise CliError("--targets names at least one module, e.g. q_proj,v_proj")
    lr_micro = round(args.lr * 1_000_000) if math.isfinite(args.lr) else 0
    if lr_micro < 1 or not math.isclose(lr_micro, args.lr * 1e6, rel_tol=1e-9):
        raise CliError(f"--lr {args.lr} must be a positive multiple of 1e-6")
    per_shard = parse_amount_avcn(args.price_per_shard, "--price-per-shard")
    aggregate = parse_amount_avcn(args.aggregate_price, "--aggregate-price")
    data, manifest, records = read_dataset(args.dataset)
    dataset_hash = hashlib.sha256(data).hexdigest()
    manifest_hash = hashlib.sha256(manifest).hexdigest()
    escrow = escrow_of(args.rounds, args.shards, per_shard, aggregate)
    key = env.signing_key(args.from_key, args.passphrase_file)
    _precheck(env, args, key.bech32, records, escrow)
    msg = tm.MsgPostTraining(
        poster=key.bech32,
        model=args.model,
        dataset=dataset_hash,
        manifest=manifest_hash,
        records=records,
        shards=args.shards,
        rounds=args.rounds,
        steps=args.steps,
        rank=args.rank,
        alpha=args.alpha,
        target_modules=targets,
        lr_micro=lr_micro,
        batch_size=args.batch_size,
        seed=args.seed,
        max_length=args.max_length,
        aggregation=AGGREGATION,
        price_per_shard=str(per_shard),
        aggregate_price=str(aggregate),
        shard_blocks=args.shard_blocks,
    )
    _simulate(env, args, key, msg)
    url = artifacts_url(args, env)
    with tempfile.TemporaryDirectory(prefix="vcoin-training-") as tmp:
        mpath = Path(tmp) / manifest_hash
        mpath.write_bytes(manifest)
        blobs = [(dataset_hash, args.dataset), (manifest_hash, mpath)]
        label = args.dataset.name
        progress = Progress(len(data) + len(manifest), label, sys.stderr, args.quiet)
        with artifact_client(url, key) as client:
            try:
                kept = upload_blobs(client, blobs, progress)
            except Exception as e:  # noqa: BLE001 - httpx and the store's errors
                raise CliError(f"uploading to the artifact store at {url} failed: {e}") from e
    if not args.quiet:
        print(
            f"dataset {dataset_hash} ({records} records), manifest {manifest_hash}; "
            f"{2 - kept} uploaded, {kept} already in the store",
            file=sys.stderr,
        )
    code = broadcast(env, args, key, [msg], show="TrainingPosted.training_id")
    if code == 0 and env.output != "json":
        print(
            f"escrow: {fmt_vcn(escrow)} {DISPLAY} = {args.rounds} round(s) × ({args.shards} "
            f"shard(s) × {fmt_vcn(per_shard)} + {fmt_vcn(aggregate)}) {DISPLAY}"
        )
    return code


def run_cancel(args: argparse.Namespace, env: Env) -> int:
    from modules.training import tx_pb2 as tm

    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = tm.MsgCancelTraining(poster=key.bech32, training_id=args.training_id)
    return broadcast(env, args, key, [msg])


# -- reading the store ---------------------------------------------------------------------
def reader_key(env: Env, args: argparse.Namespace, poster: str) -> PrivateKey | None:
    """``--from``, else the poster's key in the keystore when it needs no passphrase."""
    from chain.keystore import KeystoreError

    if args.from_key:
        return env.signing_key(args.from_key, args.passphrase_file)
    try:
        ks = env.keystore()
        for info in ks.list():
            if info.address == poster and not info.encrypted:
                return ks.load(info.name)
    except KeystoreError:
        pass
    return None


def reader(url: str, key: PrivateKey | None) -> ArtifactClient:
    """The store's client; with a key each read carries its token (a private blob)."""
    from chain.artifacts import ArtifactClient

    return ArtifactClient(url, signer=key)


def safetensors_metadata(client: ArtifactClient, digest: str) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors blob, read from its header alone."""
    from chain.artifacts import _from_response

    with client.http.stream("GET", client.url(digest), headers=client.headers("get", digest)) as r:
        if r.status_code >= 400:
            r.read()
            raise _from_response(r)
        buf = b""
        need = 8
        for chunk in r.iter_bytes():
            buf += chunk
            if len(buf) >= 8 and need == 8:
                (size,) = struct.unpack("<Q", buf[:8])
                if size > MAX_HEADER:
                    raise ValueError(f"a {size}-byte header is not an adapter's")
                need = 8 + size
            if len(buf) >= need > 8:
                break
    if len(buf) < need or need == 8:
        raise ValueError("not a safetensors file (cut short)")
    header = json.loads(buf[8:need])
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def losses_of(meta: dict[str, str]) -> list[float]:
    raw = meta.get("train_losses", "")
    vals = json.loads(raw) if raw else []
    return [float(v) for v in vals]


def sparkline(vals: list[float]) -> str:
    """``█▆▅▃▂▁``: each value's place between the curve's max and min."""
    finite = [v for v in vals if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    top = len(SPARK) - 1
    return "".join(
        SPARK[round((v - lo) / (hi - lo) * top)] if hi > lo and math.isfinite(v) else SPARK[0]
        for v in vals
    )


# -- show ------------------------------------------------------------------------------------
def _job(env: Env, job_id: int) -> dict[str, Any] | None:
    from chain.client import QueryFailed

    if not job_id:
        return None
    try:
        out: dict[str, Any] = env.client().query("jobs", "job", {"id": job_id})
    except QueryFailed:
        return None
    return out


def paid_of(job: dict[str, Any] | None) -> int:
    """What the worker of a settled job was paid (its ``WorkerPaid``), else 0."""
    return int(job["paid"]) if job and job.get("state") == "settled" else 0


def gather(env: Env, args: argparse.Namespace, rec: dict[str, Any]) -> dict[str, Any]:
    """The record with each shard's loss curve, job state and payment, and each round's
    aggregate job's, filled in from the jobs module and the artifact store."""
    key = reader_key(env, args, str(rec.get("poster", "")))
    url = artifacts_url(args, env)
    total = 0
    with reader(url, key) as client:
        for rnd in rec.get("rounds_detail") or []:
            for sh in rnd.get("shards") or []:
                job = _job(env, int(sh.get("job_id") or 0))
                sh["job_state"] = job["state"] if job else ""
                sh["paid"] = str(paid_of(job))
                total += paid_of(job)
                sh["train_losses"] = None
                if sh.get("output"):
                    try:
                        meta = safetensors_metadata(client, sh["output"])
                        sh["train_losses"] = losses_of(meta)
                        if meta.get("eval_loss"):
                            sh["eval_loss"] = float(meta["eval_loss"])
                    except Exception as e:  # noqa: BLE001 - shown, not fatal
                        sh["losses_error"] = f"{type(e).__name__}: {e}"
            agg = _job(env, int(rnd.get("aggregate_job") or 0))
            rnd["aggregate_state"] = agg["state"] if agg else ""
            rnd["aggregate_paid"] = str(paid_of(agg))
            rnd["aggregate_worker"] = agg["worker"] if agg else ""
            total += paid_of(agg)
    rec["paid_total"] = str(total)
    return rec


def _vcn(n: Any) -> str:
    return f"{fmt_vcn(int(n))} {DISPLAY}"


def _curve(sh: dict[str, Any]) -> str:
    losses = sh.get("train_losses")
    if losses:
        head = f"loss {losses[0]:.4f} → {losses[-1]:.4f} {sparkline(losses)}"
        if "eval_loss" in sh:
            head += f"  eval {sh['eval_loss']:.4f}"
        return head
    if sh.get("losses_error"):
        return f"loss: unreadable ({sh['losses_error']})"
    return ""


def round_curve(rnd: dict[str, Any]) -> list[float]:
    """The round's mean loss per step over its shards that reported one, weighted by
    their records (the weights of the aggregate)."""
    curves = [
        (int(sh.get("weight") or 1), sh["train_losses"])
        for sh in rnd.get("shards") or []
        if sh.get("train_losses")
    ]
    if not curves:
        return []
    steps = min(len(c) for _, c in curves)
    wsum = sum(w for w, _ in curves)
    return [sum(w * c[i] for w, c in curves) / wsum for i in range(steps)]


def show_text(rec: dict[str, Any]) -> str:
    cfg = rec.get("config") or {}
    lines = [
        f"training {rec['id']}: {rec['state']}  ({rec['model']}, {rec['shards']} shards × "
        f"{rec['rounds']} rounds, round {rec.get('round', 0)})",
        f"  poster    {rec['poster']}",
        f"  dataset   {rec['dataset']}  ({rec['records']} records)",
        f"  manifest  {rec['manifest']}",
        "  config    "
        + ", ".join(
            f"{k} {','.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in sorted(cfg.items())
        ),
        f"  prices    {_vcn(rec['price_per_shard'])} a shard-round, "
        f"{_vcn(rec['aggregate_price'])} an aggregate; escrow left {_vcn(rec['escrow_left'])}; "
        f"paid to workers {_vcn(rec.get('paid_total', 0))}",
    ]
    for rnd in rec.get("rounds_detail") or []:
        lines.append(f"round {rnd['round']}: global in {rnd.get('global_in') or '(B = 0)'}")
        curve = round_curve(rnd)
        if curve:
            lines.append(
                f"  loss      {curve[0]:.4f} → {curve[-1]:.4f} {sparkline(curve)}  "
                f"(mean of {len(curve)} steps, by shard weight)"
            )
        for sh in rnd.get("shards") or []:
            lines.append(
                f"  shard {sh['shard']:<3} job {sh.get('job_id', 0):<5} {sh['state']:<8} "
                f"attempts {sh.get('attempts', 0)}  weight {sh.get('weight', 0)}  "
                f"worker {sh.get('worker') or '-'}"
            )
            detail = [f"job {sh['job_state']}"] if sh.get("job_state") else []
            if int(sh.get("paid") or 0):
                detail.append(f"paid {_vcn(sh['paid'])}")
            if sh.get("output"):
                detail.append(f"output {sh['output']}")
            if detail:
                lines.append("            " + ", ".join(detail))
            if _curve(sh):
                lines.append("            " + _curve(sh))
        if rnd.get("aggregate_job"):
            agg = f"  aggregate job {rnd['aggregate_job']} {rnd.get('aggregate_state', '')}"
            if rnd.get("aggregate_worker"):
                agg += f", worker {rnd['aggregate_worker']}"
            if int(rnd.get("aggregate_paid") or 0):
                agg += f", paid {_vcn(rnd['aggregate_paid'])}"
            lines.append(agg)
        if rnd.get("global_out"):
            lines.append(f"  global out {rnd['global_out']}")
    if rec.get("adapter"):
        lines.append(f"adapter   {rec['adapter']}  (`vcoind query training adapter {rec['id']} "
                     "--out DIR`)")  # fmt: skip
    return "\n".join(lines)


def query_training(env: Env, training_id: int) -> dict[str, Any]:
    from chain.client import QueryFailed

    try:
        rec: dict[str, Any] = env.client().query("training", "training", {"id": training_id})
    except QueryFailed as e:
        raise CliError(f"training {training_id}: {e}") from e
    return rec


def run_show(args: argparse.Namespace, env: Env) -> None:
    rec = gather(env, args, query_training(env, args.training_id))
    env.emit(rec, lambda: show_text(rec))


# -- adapter ---------------------------------------------------------------------------------
def run_adapter(args: argparse.Namespace, env: Env) -> None:
    from chain.artifacts import ArtifactError
    from compute.training.adapter import write_peft_dir

    rec = query_training(env, args.training_id)
    digest = str(rec.get("adapter") or "")
    if not digest:
        raise CliError(
            f"training {args.training_id} is {rec.get('state')} at round {rec.get('round')} of "
            f"{rec.get('rounds')}: it has no final adapter yet"
        )
    key = reader_key(env, args, str(rec.get("poster", "")))
    url = artifacts_url(args, env)
    out: Path = args.out
    with tempfile.TemporaryDirectory(prefix="vcoin-adapter-") as tmp:
        blob = Path(tmp) / "adapter.safetensors"
        with reader(url, key) as client:
            try:
                client.download(digest, blob)  # checks the sha256; a mismatch leaves nothing
            except ArtifactError as e:
                raise CliError(f"downloading the adapter {digest} from {url}: {e}") from e
            except Exception as e:  # noqa: BLE001 - httpx's errors
                raise CliError(f"the artifact store at {url} cannot be reached: {e}") from e
        try:
            write_peft_dir(blob, out)
        except ValueError as e:
            raise CliError(f"the adapter {digest} cannot be written as a peft folder: {e}") from e
    files = sorted(p.name for p in out.iterdir())
    info = {"training": rec["id"], "adapter": digest, "out": str(out), "files": files}
    env.emit(
        info,
        lambda: (
            f"adapter {digest} (sha256 checked) written to {out}: {', '.join(files)}\n"
            f"load it with peft.PeftModel.from_pretrained(base_model, {str(out)!r})"
        ),
    )
