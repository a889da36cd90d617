"""The runtime's two training tasks: ``lora-shard`` and ``lora-aggregate`` (issue 16).

Both read an inline input document (``compute.training.inputs``) and the artifacts it
names (its *refs*: ``inputs/<sha256>`` beside the input, each re-hashed here), and write
one safetensors file (``compute.training.adapter``); design and why FFA-LoRA:
``compute.training``.

* ``lora-shard``: checks the manifest (canonical, naming the dataset, ``records``
  records) and the dataset against it line by line, takes the shard's records
  (``compute.training.shards``), wraps the base model with the seeded LoRA (A from
  ``config.seed``, frozen), loads the round's global B (round 0: B = 0), trains B for
  ``steps`` steps with AdamW (lr = ``lr_micro``/1e6; step s trains on the shard's texts
  s·bs … s·bs+bs−1 mod their number, as ``lora-train`` does) and writes the adapter with
  metadata ``train_losses``, ``eval_loss`` (mean loss over the shard's records after
  training), ``training``, ``round``, ``shard``, ``records`` (its weight), ``base_model``
  and ``adapter_config``. Same inputs, same bytes on the same device kind (the oracle
  compares with the lora-train metric anyway: ``compute.training.verify``).
* ``lora-aggregate``: ``ffa-mean`` of the updates (``compute.training.aggregate``), each
  checked to be a ``lora-shard`` output of this training and round, of this config and
  base model, with the seed's A bit for bit; the input's weights are used. Pure function
  of its inputs: the same bytes on any CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compute.runtime.errors import JobError
from compute.runtime.hashing import canonical_json, save_safetensors, sha256_file
from compute.training import inputs as tinputs

TRAINING_TASKS = tinputs.TASKS
MAX_REF_BYTES = 256 * 1024 * 1024


def serves(kind_tasks: tuple[str, ...], task: str) -> bool:
    """Whether a model serving ``kind_tasks`` runs ``task``: the training tasks go with
    ``lora-train``."""
    return task in kind_tasks or (task in TRAINING_TASKS and "lora-train" in kind_tasks)


def check_refs(refs: tuple[str, ...], doc: dict[str, Any], inputs_dir: Path) -> None:
    """job.json's refs are the input's, and each is in ``inputs_dir`` with that hash."""
    want = tinputs.refs(doc)
    if list(refs) != want:
        raise JobError("bad_job_spec", f"job.json's refs {list(refs)} are not the input's {want}")
    for r in refs:
        path = inputs_dir / r
        if not path.is_file():
            raise JobError("input_not_found", f"artifact {r} is not in the inputs folder")
        if path.stat().st_size > MAX_REF_BYTES:
            raise JobError("bad_input", f"artifact {r} is over {MAX_REF_BYTES} bytes")
        actual = sha256_file(path)
        if actual != r:
            raise JobError("input_hash_mismatch", f"artifact named {r} hashes to {actual}")


def _bad(what: str, e: Exception) -> JobError:
    return JobError("bad_input", f"{what}: {e}"[:2000])


def _ref(inputs_dir: Path, digest: str) -> Path:
    path = inputs_dir / digest
    if not path.is_file():
        raise JobError("input_not_found", f"artifact {digest} is not in the inputs folder")
    if sha256_file(path) != digest:
        raise JobError("input_hash_mismatch", f"artifact named {digest} has another hash")
    return path


def shard_texts(doc: dict[str, Any], inputs_dir: Path) -> list[str]:
    """The texts of the shard's records, in training order, after checking the manifest
    and the dataset; JobError ``bad_input`` saying what does not match."""
    from compute.training.manifest import check_dataset, parse_manifest
    from compute.training.shards import shard_indices

    try:
        manifest = parse_manifest(_ref(inputs_dir, doc["manifest"]).read_bytes())
    except ValueError as e:
        raise _bad("the manifest", e) from None
    if manifest.dataset != doc["dataset"]:
        raise JobError("bad_input", "the manifest is of another dataset than the input names")
    if len(manifest.records) != doc["records"]:
        raise JobError(
            "bad_input",
            f"the manifest lists {len(manifest.records)} records, the job says {doc['records']}",
        )
    try:
        texts = check_dataset(manifest, _ref(inputs_dir, doc["dataset"]).read_bytes())
    except ValueError as e:
        raise _bad("the dataset", e) from None
    idx = shard_indices(
        doc["training"],
        doc["round"],
        bytes.fromhex(doc["manifest"]),
        doc["records"],
        doc["shards"],
        doc["shard"],
    )
    return [texts[j] for j in idx]


def lora_shard(
    model_dir: Path,
    model_hash: str,
    inputs: dict[str, Any],
    params: dict[str, Any],
    device: str,
    out_dir: Path,
    *,
    inputs_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    import torch

    from compute.runtime.tasks import lm_batch, train_steps
    from compute.training import adapter

    doc = inputs
    cfg = doc["config"]
    texts = shard_texts(doc, inputs_dir)
    tok, model = adapter.seeded_model(model_dir, cfg, device)
    if doc["global"]:
        try:
            tensors, _ = adapter.read(_ref(inputs_dir, doc["global"]))
            adapter.check_tensors(tensors, adapter.state(model), "the global adapter")
        except ValueError as e:
            raise _bad("the global adapter", e) from None
        adapter.load_state(model, {k: v.to(device) for k, v in tensors.items()})
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg["lr_micro"] / 1e6, foreach=False)
    p = {"batch_size": cfg["batch_size"], "max_length": cfg["max_length"]}
    losses = train_steps(model, opt, tok, texts, p, device, 0, cfg["steps"])
    model.eval()
    with torch.no_grad():
        vals = [
            float(model(**lm_batch(tok, [t], cfg["max_length"], device)).loss.cpu()) for t in texts
        ]
    eval_loss = sum(vals) / len(vals)
    meta = {
        "task": "lora-shard",
        "base_model": model_hash,
        "adapter_config": canonical_json(adapter.adapter_config(cfg)).decode(),
        "training": str(doc["training"]),
        "round": str(doc["round"]),
        "shard": str(doc["shard"]),
        "records": str(len(texts)),
        "steps": str(cfg["steps"]),
        "train_losses": json.dumps(losses),
        "eval_loss": repr(eval_loss),
    }
    path = out_dir / "output.safetensors"
    save_safetensors(adapter.state(model), path, meta)
    return path, {"final_loss": losses[-1], "eval_loss": eval_loss, "records": len(texts)}


def seed_tensors(model_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The adapter tensors of the seeded LoRA before any training (A drawn, B zero)."""
    from compute.training import adapter

    _, model = adapter.seeded_model(model_dir, cfg, "cpu")
    return adapter.state(model)


def lora_aggregate(
    model_dir: Path,
    model_hash: str,
    inputs: dict[str, Any],
    params: dict[str, Any],
    device: str,
    out_dir: Path,
    *,
    inputs_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    from compute.training.adapter import adapter_config
    from compute.training.aggregate import aggregate, load_updates

    doc = inputs
    seed = seed_tensors(model_dir, doc["config"])
    pairs = [(_ref(inputs_dir, u["sha256"]), u["weight"]) for u in doc["updates"]]
    try:
        rows, common = load_updates(pairs, doc["training"], doc["round"], seed)
        raw = aggregate(pairs, doc["training"], doc["round"], seed)
    except ValueError as e:
        raise _bad("an update", e) from None
    if common["adapter_config"] != canonical_json(adapter_config(doc["config"])).decode():
        raise JobError("bad_input", "the updates were trained with another LoRA config")
    shards = [s for s, _, _ in rows]
    named = [u["shard"] for u in doc["updates"]]
    if sorted(shards) != named:
        raise JobError("bad_input", f"the updates are of shards {shards}, the input names {named}")
    if common["base_model"] != model_hash:
        raise JobError("bad_input", "the updates were trained on another base model")
    path = out_dir / "output.safetensors"
    path.write_bytes(raw)
    return path, {"updates": len(rows), "records": sum(w for _, w, _ in rows)}


TASKS = {"lora-shard": lora_shard, "lora-aggregate": lora_aggregate}
