"""The three task types. Each writes one output file, whose sha256 is the result hash.

* text-generation: greedy decoding, one prompt at a time (batching pads, and
  padding changes the float sums), written as canonical JSON ``output.json``.
* embedding: mean pooling over the last hidden state, L2-normalised when the
  model says so (sentence-transformers' recipe), one text at a time, written as
  ``output.safetensors`` (tensor ``embeddings``, float32 [n, dim]).
* lora-train: a LoRA adapter (peft) trained with AdamW over the texts in a
  fixed order, written as ``output.safetensors`` with the losses in its
  metadata, so the file alone carries the weights and the figures an oracle
  compares (weight cosine, held-out loss). With ``checkpoint_every`` the file
  also carries hash-chained checkpoints (``checkpoints``), so one interval can
  be checked by replaying it.
* lora-shard, lora-aggregate: distributed LoRA training's shard-round and aggregate
  (``compute.runtime.training_tasks``, design in ``compute.training``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compute.runtime.errors import JobError
from compute.runtime.hashing import canonical_json, save_safetensors
from compute.runtime.training_tasks import TASKS as TRAINING_TASKS

LORA_TARGETS = {
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gpt2": ["c_attn"],
}


def text_generation(
    model_dir: Path,
    model_hash: str,
    inputs: dict[str, list[str]],
    params: dict[str, Any],
    device: str,
    out_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, use_safetensors=True
    )
    model = model.to(device).eval()  # type: ignore[arg-type]
    eos = tok.eos_token_id
    limit = getattr(model.config, "max_position_embeddings", 2048)
    completions = []
    generated = 0
    with torch.no_grad():
        for prompt in inputs["prompts"]:
            ids = tok(prompt, return_tensors="pt").input_ids.to(device)
            if ids.shape[1] == 0:
                raise JobError("bad_input", "a prompt encodes to no tokens")
            steps = min(params["max_new_tokens"], limit - ids.shape[1])
            if steps < 1:
                raise JobError("bad_input", f"a prompt is longer than the model's {limit} tokens")
            new: list[int] = []
            past = None
            cur = ids
            for _ in range(steps):
                out = model(input_ids=cur, past_key_values=past, use_cache=True)
                past = out.past_key_values
                # argmax takes the first of equal logits: ties break the same way everywhere.
                nxt = int(out.logits[0, -1].argmax())
                new.append(nxt)
                if nxt == eos:
                    break
                cur = torch.tensor([[nxt]], device=device)
            generated += len(new)
            text = tok.decode(new, skip_special_tokens=True)
            completions.append({"prompt": prompt, "completion": text, "token_ids": new})
    doc = {"task": "text-generation", "model": model_hash, "completions": completions}
    path = out_dir / "output.json"
    path.write_bytes(canonical_json(doc))
    return path, {"generated_tokens": generated}


def pooling(model_dir: Path) -> tuple[str, bool]:
    """The sentence-embedding recipe a model folder declares: ``(mode, normalize)``.

    ``mode`` is ``"mean"`` (the default) or ``"cls"`` (``1_Pooling/config.json``);
    ``normalize`` is whether ``modules.json`` lists a ``Normalize`` module (true when
    there is no ``modules.json``). Any other pooling is JobError ``bad_model``.
    """
    mode = "mean"
    pooling_cfg = model_dir / "1_Pooling" / "config.json"
    if pooling_cfg.exists():
        cfg = json.loads(pooling_cfg.read_text())
        if cfg.get("pooling_mode_cls_token"):
            mode = "cls"
        elif not cfg.get("pooling_mode_mean_tokens", True):
            raise JobError("bad_model", "only mean or CLS pooling is supported")
    normalize = True
    modules = model_dir / "modules.json"
    if modules.exists():
        kinds = [m.get("type", "") for m in json.loads(modules.read_text())]
        normalize = any(k.endswith(".Normalize") for k in kinds)
    return mode, normalize


def embedding(
    model_dir: Path,
    model_hash: str,
    inputs: dict[str, list[str]],
    params: dict[str, Any],
    device: str,
    out_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32, use_safetensors=True)
    model = model.to(device).eval()
    mode, normalize = pooling(model_dir)
    rows = []
    tokens = 0
    with torch.no_grad():
        for text in inputs["texts"]:
            enc = tok(text, truncation=True, max_length=params["max_length"], return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items()}
            hidden = model(**enc).last_hidden_state[0]
            tokens += hidden.shape[0]
            vec = hidden[0] if mode == "cls" else hidden.mean(dim=0)
            if normalize:
                vec = torch.nn.functional.normalize(vec, p=2, dim=0)
            rows.append(vec.float().cpu())
    emb = torch.stack(rows).contiguous()
    meta = {
        "task": "embedding",
        "model": model_hash,
        "pooling": mode,
        "normalized": "1" if normalize else "0",
    }
    path = out_dir / "output.safetensors"
    save_safetensors({"embeddings": emb}, path, meta)
    return path, {"texts": len(rows), "tokens": tokens, "dim": int(emb.shape[1])}


def lm_batch(tok: Any, texts: list[str], max_length: int, device: str) -> dict[str, Any]:
    """A causal-LM training batch: each text's tokens plus EOS, cut to ``max_length``,
    right-padded; ``labels`` are the tokens, -100 on the padding (no loss there)."""
    import torch

    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    seqs = [(tok(t).input_ids + [eos])[:max_length] for t in texts]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
        labels[i, : len(s)] = torch.tensor(s)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }


def lora_model(model_dir: Path, params: dict[str, Any], device: str) -> tuple[Any, Any, list[str]]:
    """(tokenizer, the base model wrapped with the job's fresh LoRA adapter, targets)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from compute.runtime.determinism import seed_all

    tok = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, use_safetensors=True
    )
    targets = LORA_TARGETS.get(base.config.model_type)
    if targets is None:
        raise JobError("bad_model", f"LoRA is not set up for model type {base.config.model_type}")
    # The adapter's initial A matrices are random: seed right before they are made.
    seed_all(params["seed"])
    cfg = LoraConfig(
        r=params["rank"],
        lora_alpha=params["alpha"],
        lora_dropout=0.0,
        bias="none",
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, cfg).to(device)
    model.train()
    return tok, model, targets


def lora_optimizer(model: Any, params: dict[str, Any]) -> Any:
    import torch

    trainable = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trainable, lr=params["learning_rate"], foreach=False)


def train_steps(
    model: Any,
    opt: Any,
    tok: Any,
    texts: list[str],
    params: dict[str, Any],
    device: str,
    start: int,
    stop: int,
) -> list[float]:
    """Steps ``start`` to ``stop - 1``; their losses. Step ``s`` trains on the texts
    ``s·bs … s·bs + bs − 1`` (mod their number): the data order is a function of the step
    alone, so an interval replayed on its own sees the batches the whole run saw."""
    bs = params["batch_size"]
    losses = []
    for step in range(start, stop):
        batch = [texts[(step * bs + j) % len(texts)] for j in range(bs)]
        loss = model(**lm_batch(tok, batch, params["max_length"], device)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach().cpu()))
    return losses


def lora_train(
    model_dir: Path,
    model_hash: str,
    inputs: dict[str, list[str]],
    params: dict[str, Any],
    device: str,
    out_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    import torch
    from peft import get_peft_model_state_dict

    from compute.runtime import checkpoints as ck

    tok, model, targets = lora_model(model_dir, params, device)
    opt = lora_optimizer(model, params)
    texts = inputs["texts"]
    at = ck.boundaries(params["steps"], params["checkpoint_every"])
    losses: list[float] = []
    saved: list[dict[str, Any]] = []
    if not at:
        losses = train_steps(model, opt, tok, texts, params, device, 0, params["steps"])
    else:
        live = ck.lora_params(model)
        saved.append(ck.capture(live, opt))
        for start, stop in zip(at, at[1:], strict=False):
            losses += train_steps(model, opt, tok, texts, params, device, start, stop)
            saved.append(ck.capture(live, opt))
    model.eval()
    eval_loss = None
    if inputs.get("eval_texts"):
        with torch.no_grad():
            vals = [
                float(model(**lm_batch(tok, [t], params["max_length"], device)).loss.cpu())
                for t in inputs["eval_texts"]
            ]
        eval_loss = sum(vals) / len(vals)
    state = {
        k: v.detach().float().cpu().contiguous()
        for k, v in get_peft_model_state_dict(model).items()
    }
    meta = {
        "task": "lora-train",
        "base_model": model_hash,
        "target_modules": ",".join(targets),
        "rank": str(params["rank"]),
        "alpha": str(params["alpha"]),
        "steps": str(params["steps"]),
        "train_losses": json.dumps(losses),
        "eval_loss": "" if eval_loss is None else repr(eval_loss),
    }
    tensors = dict(state)
    if saved:
        doc = ck.manifest(model_hash, params, saved, losses)
        meta[ck.META_KEY] = canonical_json(doc).decode()
        for i, c in enumerate(saved):
            tensors.update(ck.flatten(c, i))
    path = out_dir / "output.safetensors"
    save_safetensors(tensors, path, meta)
    metrics: dict[str, Any] = {"final_loss": losses[-1], "adapter_tensors": len(state)}
    if saved:
        metrics["checkpoints"] = len(saved)
    if eval_loss is not None:
        metrics["eval_loss"] = eval_loss
    return path, metrics


TASKS: dict[str, Callable[..., tuple[Path, dict[str, Any]]]] = {
    "text-generation": text_generation,
    "embedding": embedding,
    "lora-train": lora_train,
    # lora-shard, lora-aggregate: they also take ``inputs_dir=`` (their refs are there)
    **TRAINING_TASKS,
}
