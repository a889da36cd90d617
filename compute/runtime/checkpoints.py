"""LoRA training checkpoints every k steps, chained by hash, inside the output file.

A lora-train job with ``checkpoint_every = k > 0`` cuts its ``steps`` into
intervals at the boundaries ``0, k, 2k, …, steps`` (``boundaries``). At each
boundary ``i`` the runtime records checkpoint ``i``: the adapter weights
(``w``) and AdamW's two moments (``m``, ``v``), everything the next steps
depend on (the step count is the boundary itself; the data order is a
function of the step: ``compute.runtime.tasks.train_steps``). So any interval
can be replayed alone from its start checkpoint, and should end at the next
checkpoint's bits.

The checkpoints are tensors of the output file itself, named
``checkpoint.<i>.<w|m|v>.<adapter tensor name>``, next to the adapter's own
tensors (equal to the last checkpoint's ``w``); the file's metadata key
``checkpoint_chain`` holds the manifest (canonical JSON)::

    {"format": "vcoin-lora-chain/1", "every": k, "steps": [0, k, …, steps],
     "checkpoints": [sha256 of checkpoint i's tensors, …],
     "chain": [link_0, …, link_m]}

    link_{-1} = sha256("vcoin/lora-chain/v1" ‖ base model hash ‖ canonical params)
    link_i    = sha256(link_{i-1} ‖ checkpoint_i digest ‖ sha256(canonical losses of
                the steps between boundary i-1 and i))

The result hash on chain is the file's sha256, so it commits to every
checkpoint, the manifest and the loss log (``train_losses``) at once: no
message carries anything new. Readers of the adapter take ``adapter_tensors``
(the ``checkpoint.`` tensors are the proof, not the adapter). The file grows
by ``3·(m+1)`` adapters: fine for the small adapters this runtime trains, too
much for a large one (then the checkpoints belong in blobs of their own).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from compute.runtime.hashing import canonical_json

CHAIN_FORMAT = "vcoin-lora-chain/1"
CHAIN_DOMAIN = b"vcoin/lora-chain/v1"
META_KEY = "checkpoint_chain"
PREFIX = "checkpoint."
PARTS = ("w", "m", "v")  # weights, AdamW's exp_avg and exp_avg_sq


def boundaries(steps: int, every: int) -> list[int]:
    """The steps at which checkpoints are taken: ``0, k, 2k, …`` and ``steps``; empty
    when ``every`` is 0 (no checkpoints)."""
    if every <= 0:
        return []
    return [*range(0, steps, every), steps]


def tensor_name(i: int, part: str, key: str) -> str:
    return f"{PREFIX}{i}.{part}.{key}"


def adapter_tensors(tensors: Mapping[str, Any]) -> dict[str, Any]:
    """The adapter itself: every tensor but the checkpoints."""
    return {k: v for k, v in tensors.items() if not k.startswith(PREFIX)}


def checkpoint(tensors: Mapping[str, Any], i: int, part: str) -> dict[str, Any]:
    """Checkpoint ``i``'s ``part`` (``w``, ``m`` or ``v``) by adapter tensor name."""
    head = f"{PREFIX}{i}.{part}."
    return {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}


def tensors_digest(tensors: Mapping[str, Any]) -> str:
    """sha256 over the tensors in name order: name, dtype, shape and raw bytes of each
    (float32 little-endian, as the file stores them), so it is the same for the same bits
    whichever library read them."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(_numpy(tensors[name]), dtype="<f4"))
        h.update(canonical_json([name, "F32", list(a.shape)]))
        h.update(a.tobytes())
    return h.hexdigest()


def _numpy(t: Any) -> Any:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else t


def chain_links(
    model_hash: str,
    params: Mapping[str, Any],
    digests: list[str],
    losses: list[float],
    at: list[int],
) -> list[str]:
    """The hash chain over checkpoint digests and the losses between them (``at``: the
    boundaries)."""
    link = hashlib.sha256(
        CHAIN_DOMAIN + model_hash.encode() + canonical_json(dict(params))
    ).digest()
    out = []
    for i, digest in enumerate(digests):
        seg = losses[at[i - 1] : at[i]] if i else []
        seg_hash = hashlib.sha256(canonical_json(seg)).digest()
        link = hashlib.sha256(link + bytes.fromhex(digest) + seg_hash).digest()
        out.append(link.hex())
    return out


def manifest(
    model_hash: str,
    params: Mapping[str, Any],
    checkpoints: list[dict[str, Any]],
    losses: list[float],
) -> dict[str, Any]:
    """The ``checkpoint_chain`` document for ``checkpoints`` (each ``{"w", "m", "v"}`` →
    tensors by name), taken at ``boundaries(params)``."""
    at = boundaries(params["steps"], params["checkpoint_every"])
    digests = [tensors_digest(flatten(c)) for c in checkpoints]
    return {
        "format": CHAIN_FORMAT,
        "every": params["checkpoint_every"],
        "steps": at,
        "checkpoints": digests,
        "chain": chain_links(model_hash, params, digests, losses, at),
    }


def flatten(ckpt: Mapping[str, Mapping[str, Any]], i: int | None = None) -> dict[str, Any]:
    """One checkpoint's tensors under ``<part>.<key>`` (``i`` given: under their names in
    the output file)."""
    pre = "" if i is None else f"{PREFIX}{i}."
    return {f"{pre}{part}.{k}": v for part in PARTS for k, v in ckpt[part].items()}


# -- the live training state --------------------------------------------------------------
def lora_params(model: Any) -> dict[str, Any]:
    """The trainable LoRA parameters by adapter tensor name (peft's state-dict names: the
    parameter's name without the adapter's name ``.default``)."""
    return {n.replace(".default.", "."): p for n, p in model.named_parameters() if p.requires_grad}


def capture(params: Mapping[str, Any], opt: Any) -> dict[str, dict[str, Any]]:
    """The weights and AdamW moments now (zeros before the first step)."""
    import torch

    out: dict[str, dict[str, Any]] = {part: {} for part in PARTS}
    for key, p in params.items():
        st = opt.state.get(p, {})
        out["w"][key] = p.detach().float().cpu().clone()
        for part, name in (("m", "exp_avg"), ("v", "exp_avg_sq")):
            t = st.get(name)
            out[part][key] = (
                torch.zeros_like(out["w"][key]) if t is None else t.detach().float().cpu().clone()
            )
    return out


def restore(
    params: Mapping[str, Any], opt: Any, ckpt: Mapping[str, Mapping[str, Any]], step: int
) -> None:
    """Put a checkpoint taken after ``step`` steps back into the model and the optimizer."""
    import torch

    with torch.no_grad():
        for key, p in params.items():
            p.copy_(_tensor(ckpt["w"][key]).to(p.device))
            if step:
                opt.state[p] = {
                    "step": torch.tensor(float(step)),
                    "exp_avg": _tensor(ckpt["m"][key]).to(p.device, p.dtype).clone(),
                    "exp_avg_sq": _tensor(ckpt["v"][key]).to(p.device, p.dtype).clone(),
                }
            else:
                opt.state.pop(p, None)


def _tensor(t: Any) -> Any:
    import torch

    return t if isinstance(t, torch.Tensor) else torch.from_numpy(t.copy())


def finite_losses(losses: Any, steps: int) -> bool:
    return (
        isinstance(losses, list)
        and len(losses) == steps
        and all(isinstance(x, int | float) and math.isfinite(x) for x in losses)
    )
