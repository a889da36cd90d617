"""Make torch give the same bits for the same job, run after run.

Same job → same output hash needs: deterministic kernels only
(``use_deterministic_algorithms``), cuBLAS with a fixed workspace, no TF32, no
cuDNN autotuning, fixed seeds for every generator, and a fixed number of CPU
threads (a reduction split across a different number of threads adds floats
in a different order). The result still depends on the device kind and the
library versions, which result.json records.
"""

from __future__ import annotations

import os
import random
import warnings
from typing import Any

CPU_THREADS = 1


def prepare_env() -> None:
    """Set before torch is imported: cuBLAS reads it when CUDA starts."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    os.environ.setdefault("OMP_NUM_THREADS", str(CPU_THREADS))
    os.environ.setdefault("MKL_NUM_THREADS", str(CPU_THREADS))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Library deprecation notices would only fill the bounded log tail.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def setup_torch(seed: int) -> Any:
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(CPU_THREADS)
    seed_all(seed)
    return torch


def seed_all(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA generators too


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch sees no CUDA device")
    return requested


def versions() -> dict[str, str]:
    """Versions of what decides the output bits (read from metadata: importing
    peft only to ask would cost a job that does not use it a fraction of a second)."""
    from importlib.metadata import version

    import torch

    out: dict[str, str] = {"torch": str(torch.__version__)}
    for name in ("transformers", "tokenizers", "safetensors", "peft"):
        out[name] = version(name)
    if torch.cuda.is_available():
        out["cuda"] = str(torch.version.cuda)
    return out
