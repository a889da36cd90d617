"""The held-out loss of a LoRA adapter, computed by the oracle itself.

A worker's output file carries its own loss figures in the metadata; they are
never used. The oracle loads the base model once, wraps it with the job's LoRA
config (rank, alpha, target modules: the runtime's own choices), loads each
adapter's tensors (safetensors: no code runs) and averages the loss over the
texts one at a time with the runtime's batching (``compute.runtime.tasks.lm_batch``), so
the oracle's adapter and the worker's are measured by the same ruler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class LossEvaluator(Protocol):
    def __call__(self, adapter: Path) -> float: ...

    def base_loss(self) -> float: ...


def loss_evaluator(
    model_dir: Path, params: dict[str, Any], texts: list[str], device: str = "cpu"
) -> LossEvaluator:
    """``loss_of(adapter_path) -> mean loss`` over ``texts`` for adapters of this job;
    ``loss_of.base_loss()`` is the loss of the base model alone (no adapter)."""
    from compute.runtime.determinism import prepare_env

    prepare_env()
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from compute.runtime.checkpoints import adapter_tensors
    from compute.runtime.spec import check_params
    from compute.runtime.tasks import LORA_TARGETS, lm_batch

    if not texts:
        raise ValueError("no texts to measure a loss on")
    p = check_params("lora-train", params)
    tok = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    targets = LORA_TARGETS.get(base.config.model_type)
    if targets is None:
        raise ValueError(f"LoRA is not set up for model type {base.config.model_type}")
    cfg = LoraConfig(
        r=p["rank"],
        lora_alpha=p["alpha"],
        lora_dropout=0.0,
        bias="none",
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, cfg).to(device).eval()

    def mean_loss() -> float:
        with torch.no_grad():
            vals = [
                float(model(**lm_batch(tok, [t], p["max_length"], device)).loss.cpu())
                for t in texts
            ]
        return sum(vals) / len(vals)

    class Evaluator:
        def base_loss(self) -> float:
            with model.disable_adapter():
                return mean_loss()

        def __call__(self, adapter: Path) -> float:
            return loss_of(adapter)

    from peft import get_peft_model_state_dict
    from safetensors import SafetensorError

    from oracle.similarity import BadOutput

    due = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(model).items()}

    def loss_of(adapter: Path) -> float:
        """The file's content is the adapter's fault (``BadOutput``): it does not parse,
        or its tensors are not the job's LoRA. Loading checked tensors into the model is
        the oracle's own work: an ``OSError``, an out-of-memory error or a library bug
        propagates, and the caller abstains rather than blame the worker."""
        try:
            state = adapter_tensors(load_file(str(adapter)))  # not a checkpoint chain's
        except (SafetensorError, ValueError) as e:
            raise BadOutput(f"the adapter does not load: {e}") from None
        extra, missing = sorted(set(state) - set(due)), sorted(set(due) - set(state))
        if extra:
            raise BadOutput(f"the adapter has tensors the job's LoRA lacks: {extra[:4]}")
        if missing:
            raise BadOutput(f"the adapter lacks tensors of the job's LoRA: {missing[:4]}")
        wrong = [k for k in sorted(state) if tuple(state[k].shape) != due[k]]
        if wrong:
            raise BadOutput(f"adapter tensors of the wrong shape: {wrong[:4]}")
        set_peft_model_state_dict(model, state)
        return mean_loss()

    return Evaluator()
