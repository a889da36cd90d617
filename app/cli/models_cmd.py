"""``vcoind tx models register --from-dir DIR``: bring your own model.

Registers a Hugging Face model folder (``config.json``, ``*.safetensors`` weights,
tokenizer files) as one of the signer's models, in this order:

1. Read the folder. Pickle weights (``compute.runtime.models.PICKLE_SUFFIXES``:
   ``*.bin``, ``*.pt``, ``*.pth``, ``*.pkl``, ``*.ckpt``, ``*.pickle``) are refused
   before anything else happens: loading a pickle runs code, and workers load what
   anyone registers. ``config.json`` and at least one ``*.safetensors`` file are
   required; hidden files (``.git``, ``.cache``) are left
   out. The kind is ``--kind`` or read from the folder: ``sentence-embedding`` when
   it has ``modules.json`` (sentence-transformers), ``causal-lm`` when
   ``config.json``'s ``architectures`` name a ``…ForCausalLM``.
2. Check against the chain what the chain would refuse, so nothing is uploaded for
   a registration that cannot land: the kind is one of the jobs params'
   ``model_kinds``, the files total at most ``max_model_bytes``, the id is free or
   the signer's own, ``--max-fee`` (default: the current fee) covers
   ``model_registration_fee`` and the balance pays it.
3. Build the manifest (``worker.models.artifact.write_model``) in a scratch folder
   and upload the manifest and every file to the node's artifact store (``--artifacts``,
   default the node's host on port 1317), skipping blobs the store already holds,
   with a progress line (bytes of the total) on a terminal; none when stderr is not a
   terminal or with ``--quiet``. Each upload carries a token signed with the key.
4. Sign and broadcast ``MsgRegisterOwnModel`` (the manifest's sha256 as
   ``weights_sha256``, ``config.json``'s as ``config_sha256``, the files' total as
   ``total_bytes``); the chain charges the fee (``burn_bps`` burned, the rest to the
   treasury).

It lives in ``app/cli`` (not ``modules/jobs/cli.py``) because it builds the manifest
with ``worker/`` and ``compute/`` code, which a module may not import.

Workers then serve it once their registration lists it (``vcoin-worker register``
lists every registered model that fits), and the gateway's ``/v1/models`` lists it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from chain.cli.common import CliError, Env, add_tx_flags, broadcast, fmt_vcn, parse_amount_avcn
from chain.coins import DISPLAY
from compute.runtime.models import PICKLE_SUFFIXES
from modules.jobs.params import MODEL_KIND_TASKS

if TYPE_CHECKING:
    from chain.artifacts import ArtifactClient
    from chain.crypto import PrivateKey

ARTIFACTS_ENV = "VCOIN_ARTIFACTS"
REST_PORT = 1317


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("models", help="register your own model (bring your own model)")
    sub = p.add_subparsers(dest="models_cmd", required=True, metavar="COMMAND")
    reg = sub.add_parser(
        "register",
        help="register a Hugging Face model folder as your model, for the registration fee",
        description="Reads DIR (config.json, *.safetensors, tokenizer files; pickle weights "
        "are refused), uploads its files to the node's artifact store with a progress line, "
        "and registers it under ID for the jobs params' model_registration_fee "
        "(`vcoind query jobs params`). An ID already registered can only be updated by the "
        "account that registered it.",
    )
    reg.add_argument("--from-dir", required=True, type=Path, metavar="DIR", help="model folder")
    reg.add_argument("--id", dest="model_id", help="model id on chain (default: DIR's name)")
    reg.add_argument(
        "--kind",
        choices=sorted(MODEL_KIND_TASKS),
        help="default: sentence-embedding with a modules.json, causal-lm for a …ForCausalLM",
    )
    reg.add_argument("--min-gpu-memory-mib", type=int, default=0)
    reg.add_argument("--description", default="", help="default: the folder's name")
    reg.add_argument(
        "--max-fee", help="the most you agree to pay, e.g. 10VCN (default: the current fee)"
    )
    reg.add_argument(
        "--artifacts",
        help=f"artifact store URL (env {ARTIFACTS_ENV}; default: the node's host, port "
        f"{REST_PORT})",
    )
    reg.add_argument("--quiet", "-q", action="store_true", help="no upload progress")
    add_tx_flags(reg)
    reg.set_defaults(func=run_register)


# -- the folder ----------------------------------------------------------------------
def scan_folder(folder: Path) -> dict[str, Path]:
    """The model's files by their name in the model; refuses pickles and incomplete
    folders with what to do instead."""
    from compute.runtime.models import SAFE_NAME

    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder")
    files: dict[str, Path] = {}
    pickles: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or path.is_dir():
            continue
        if path.suffix.lower() in PICKLE_SUFFIXES:
            pickles.append(rel)
            continue
        if not path.is_file():
            raise CliError(f"{folder / rel} is not a regular file")
        if not SAFE_NAME.fullmatch(rel):
            raise CliError(f"{rel!r}: file names may hold only letters, digits and ._-")
        files[rel] = path
    if pickles:
        raise CliError(
            f"{folder} holds pickle files ({', '.join(pickles)}): loading a pickle runs code, "
            "so VCoin takes weights as safetensors only. Save the model with "
            "save_pretrained(DIR, safe_serialization=True) (or convert it) and remove the "
            f"{', '.join(sorted({Path(p).suffix for p in pickles}))} files; nothing was uploaded"
        )
    if "config.json" not in files:
        raise CliError(f"{folder} has no config.json: is it a Hugging Face model folder?")
    if not any(rel.endswith(".safetensors") for rel in files):
        raise CliError(f"{folder} has no *.safetensors weights")
    return files


def infer_kind(files: dict[str, Path]) -> str:
    if "modules.json" in files:
        return "sentence-embedding"
    try:
        config = json.loads(files["config.json"].read_text())
    except (OSError, ValueError) as e:
        raise CliError(f"config.json cannot be read: {e}") from e
    archs = config.get("architectures") if isinstance(config, dict) else None
    if isinstance(archs, list) and any(str(a).endswith("ForCausalLM") for a in archs):
        return "causal-lm"
    raise CliError(
        f"cannot tell the model's kind from config.json (architectures {archs!r}); "
        f"pass --kind ({', '.join(sorted(MODEL_KIND_TASKS))})"
    )


# -- progress -------------------------------------------------------------------------
def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


class Progress:
    """``uploading MODEL: 12.0 MiB / 40.0 MiB (30 %)`` rewritten in place on a terminal;
    nothing when ``stream`` is not one or ``quiet``."""

    def __init__(self, total: int, label: str, stream: IO[str], quiet: bool) -> None:
        self.total, self.done, self.label, self.stream = total, 0, label, stream
        self.on = not quiet and stream.isatty()
        self._shown = -1

    def advance(self, n: int) -> None:
        self.done += n
        pct = 100 * self.done // self.total if self.total else 100
        if self.on and (pct != self._shown or self.done == self.total):
            self._shown = pct
            self.stream.write(
                f"\ruploading {self.label}: {_size(self.done)} / {_size(self.total)} ({pct} %)"
            )
            self.stream.flush()

    def finish(self) -> None:
        if self.on:
            self.stream.write("\n")
            self.stream.flush()


def artifacts_url(args: argparse.Namespace, env: Env) -> str:
    url = args.artifacts or os.environ.get(ARTIFACTS_ENV)
    if url:
        return url if "://" in url else "http://" + url
    node = urlsplit(env.node)
    return f"{node.scheme or 'http'}://{node.hostname or '127.0.0.1'}:{REST_PORT}"


def artifact_client(url: str, key: PrivateKey) -> ArtifactClient:
    """The store's client, signing each request with ``key`` (an upload needs its token)."""
    from chain.artifacts import ArtifactClient

    return ArtifactClient(url, signer=key)


def upload(client: ArtifactClient, blobs: list[Path], progress: Progress) -> tuple[int, int]:
    """Upload ``blobs`` (each named by its sha256); returns (sent, already stored)."""
    sent = kept = 0
    for blob in blobs:
        if client.readable(blob.name):
            progress.advance(blob.stat().st_size)
            kept += 1
            continue
        client.upload_file(blob, digest=blob.name, on_chunk=progress.advance)
        sent += 1
    progress.finish()
    return sent, kept


# -- the command ----------------------------------------------------------------------
def _precheck(
    env: Env, owner: str, model_id: str, kind: str, total: int, max_fee: int | None
) -> int:
    """What the chain would refuse, refused before any upload; returns the max fee."""
    from chain.client import NodeError

    c = env.client()
    p = c.query("jobs", "params")
    if kind not in p["model_kinds"]:
        raise CliError(
            f"the chain takes models of kinds {p['model_kinds']} from accounts, not {kind}"
        )
    if total > int(p["max_model_bytes"]):
        raise CliError(
            f"the model's files are {total} bytes ({_size(total)}); the chain's "
            f"max_model_bytes is {p['max_model_bytes']}; nothing was uploaded"
        )
    try:
        old = c.query("jobs", "model", {"id": model_id})
    except NodeError:
        old = None
    if old is not None and old.get("owner") != owner:
        whose = old.get("owner") or "the platform"
        raise CliError(f"model {model_id!r} belongs to {whose}; choose another --id")
    fee = int(p["model_registration_fee"])
    if max_fee is None:
        max_fee = fee
    elif max_fee < fee:
        raise CliError(
            f"registering a model costs {fmt_vcn(fee)} {DISPLAY}; --max-fee is "
            f"{fmt_vcn(max_fee)} {DISPLAY}; nothing was uploaded"
        )
    have = c.balance(owner)
    if have < fee:
        raise CliError(
            f"registering a model costs {fmt_vcn(fee)} {DISPLAY} (plus the tx fee); {owner} "
            f"has {fmt_vcn(have)} {DISPLAY}; nothing was uploaded"
        )
    return max_fee


def run_register(args: argparse.Namespace, env: Env) -> int:
    from modules.jobs import msgs as jm
    from modules.jobs.errors import ErrInvalidModel
    from worker.models.artifact import write_model

    folder: Path = args.from_dir
    files = scan_folder(folder)
    kind = args.kind or infer_kind(files)
    model_id = args.model_id or folder.resolve().name
    try:
        jm.name(model_id, "model id", ErrInvalidModel)
    except Exception as e:  # noqa: BLE001 - ChainError: show its message
        raise CliError(f"{e}; pass --id") from e
    total = sum(p.stat().st_size for p in files.values())
    key = env.signing_key(args.from_key, args.passphrase_file)
    max_fee = None if args.max_fee is None else parse_amount_avcn(args.max_fee, "--max-fee")
    max_fee = _precheck(env, key.bech32, model_id, kind, total, max_fee)
    with tempfile.TemporaryDirectory(prefix="vcoin-model-") as tmp:
        art = write_model(model_id, kind, files, Path(tmp))
        blobs = art.blobs()
        progress = Progress(sum(b.stat().st_size for b in blobs), model_id, sys.stderr, args.quiet)
        url = artifacts_url(args, env)
        with artifact_client(url, key) as client:
            try:
                sent, kept = upload(client, blobs, progress)
            except Exception as e:  # noqa: BLE001 - httpx and the store's errors
                raise CliError(f"uploading to the artifact store at {url} failed: {e}") from e
    if not args.quiet:
        print(
            f"uploaded {sent} blob(s), {kept} already in the store; manifest {art.digest}",
            file=sys.stderr,
        )
    msg = jm.MsgRegisterOwnModel(
        owner=key.bech32,
        model_id=model_id,
        kind=kind,
        weights_sha256=art.digest,
        config_sha256=art.manifest.files["config.json"][0],
        total_bytes=total,
        min_gpu_memory_mib=args.min_gpu_memory_mib,
        description=args.description or folder.resolve().name,
        max_fee=str(max_fee),
    )
    return broadcast(env, args, key, [msg], show="ModelRegistered.model")
