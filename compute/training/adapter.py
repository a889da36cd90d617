"""The training's LoRA model and adapter files.

Both task outputs (a shard's update, a round's global adapter) are one safetensors file
written by ``compute.runtime.hashing.save_safetensors`` (canonical header, tensors in name
order): the peft state-dict tensors (``…lora_A.weight``, ``…lora_B.weight``: the names
``peft.get_peft_model_state_dict`` gives) and string metadata, among it
``adapter_config``, the canonical JSON of the peft ``LoraConfig`` (``adapter_config``
below: only the fields this runtime sets, so the bytes do not change with peft's
version). ``write_peft_dir`` turns such a file into the folder
``peft.PeftModel.from_pretrained(base, folder)`` loads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from compute.runtime.hashing import canonical_json

ADAPTER_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"


def adapter_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The peft adapter_config of a training config (``compute.training.inputs``)."""
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": cfg["rank"],
        "lora_alpha": cfg["alpha"],
        "lora_dropout": 0.0,
        "bias": "none",
        "target_modules": sorted(cfg["targets"]),
        "inference_mode": True,
    }


def is_a(name: str) -> bool:
    """Whether a state-dict tensor is a LoRA A factor (frozen in FFA-LoRA)."""
    return ".lora_A." in name or ".lora_embedding_A" in name


def seeded_model(model_dir: Path, cfg: dict[str, Any], device: str) -> tuple[Any, Any]:
    """(tokenizer, the base model wrapped with the training's LoRA adapter): A drawn from
    ``cfg["seed"]`` on CPU (the same A on every machine with this torch) and frozen, B zero
    and trainable. A target module the model lacks is peft's ValueError (``bad_input``)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, use_safetensors=True
    )
    lc = LoraConfig(
        r=cfg["rank"],
        lora_alpha=cfg["alpha"],
        lora_dropout=0.0,
        bias="none",
        target_modules=list(cfg["targets"]),
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(cfg["seed"])  # the adapter's A: drawn right here, on CPU
    model = get_peft_model(base, lc)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(not is_a(name))
    return tok, model.to(device)


def state(model: Any) -> dict[str, Any]:
    """The adapter's tensors (float32, CPU, contiguous) by state-dict name."""
    from peft import get_peft_model_state_dict

    return {
        k: v.detach().float().cpu().contiguous()
        for k, v in get_peft_model_state_dict(model).items()
    }


def load_state(model: Any, tensors: dict[str, Any]) -> None:
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, tensors)


def check_tensors(got: dict[str, Any], due: dict[str, Any], what: str) -> None:
    """ValueError unless ``got`` has exactly the names and shapes of ``due`` and the very
    same A factors (bit for bit): FFA-LoRA's A never changes."""
    import torch

    missing, extra = sorted(set(due) - set(got)), sorted(set(got) - set(due))
    if missing or extra:
        raise ValueError(f"{what}: tensors missing {missing[:4]}, unknown {extra[:4]}")
    for k in sorted(due):
        g, d = got[k], due[k]
        if tuple(g.shape) != tuple(d.shape) or g.dtype != torch.float32:
            raise ValueError(
                f"{what}: tensor {k} is {g.dtype} {tuple(g.shape)}, not float32 {tuple(d.shape)}"
            )
        if is_a(k) and not torch.equal(g, d):
            raise ValueError(f"{what}: its A factor {k} is not the training seed's (A is frozen)")


def read(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) of an adapter file; ValueError when it does not parse."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path.name} is not a safetensors file: {e}") from None
    return tensors, meta


def write_peft_dir(path: Path, out_dir: Path) -> Path:
    """Write ``out_dir`` with ``adapter_config.json`` (from the file's ``adapter_config``
    metadata) and ``adapter_model.safetensors`` (the file itself: its tensor names are
    peft's), which ``peft.PeftModel.from_pretrained(base_model, out_dir)`` loads. A shard's
    update or a global adapter both work. ValueError when the file carries no config."""
    _, meta = read(path)
    raw = meta.get("adapter_config")
    if not raw:
        raise ValueError(f"{path.name} carries no adapter_config: not a training adapter")
    cfg = json.loads(raw)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CONFIG_FILE).write_bytes(canonical_json(cfg) + b"\n")
    shutil.copyfile(path, out_dir / ADAPTER_FILE)
    return out_dir
