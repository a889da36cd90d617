"""A tiny causal LM built from a config and a seed: the devnet's and the tests' model.

Everything is a function of the seed: the config (LLaMA-shaped, 2 layers,
hidden 64), a byte-level tokenizer (one token per byte plus two specials, no
merges, no training data) and weights drawn from torch's CPU generator, so
``build_tiny_lm(dir, seed)`` gives the same manifest hash on every machine with
the same torch. Genesis registers that hash; tests and the devnet seed the
artifact store with the blobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compute.runtime.hashing import canonical_json, save_safetensors
from worker.models.artifact import ModelArtifact, write_model

EOS = "<|endoftext|>"
PAD = "<|pad|>"
CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 258,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    "tie_word_embeddings": False,
    "bos_token_id": 256,
    "eos_token_id": 256,
    "pad_token_id": 257,
    "torch_dtype": "float32",
}
WEIGHT_STD = 0.25


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, so byte b is token id b."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
    keep += list(range(0xAE, 0xFF + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def tokenizer_json() -> bytes:
    vocab = {ch: b for b, ch in bytes_to_unicode().items()}
    specials = [
        {"id": CONFIG["eos_token_id"], "content": EOS},
        {"id": CONFIG["pad_token_id"], "content": PAD},
    ]
    for s in specials:
        vocab[s["content"]] = s["id"]
    doc: dict[str, Any] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                **s,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for s in specials
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": False,
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [],
        },
    }
    return canonical_json(doc)


def tokenizer_config() -> bytes:
    return canonical_json(
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": EOS,
            "eos_token": EOS,
            "pad_token": PAD,
            "model_max_length": CONFIG["max_position_embeddings"],
            "clean_up_tokenization_spaces": False,
        }
    )


def weights(seed: int) -> dict[str, Any]:
    """Parameter tensors by name, drawn in sorted-name order from one generator.

    Drawing them here (not through transformers' init) keeps the bytes
    independent of the order in which a transformers version builds modules.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    with torch.device("meta"):
        shapes = {
            k: tuple(v.shape)
            for k, v in LlamaForCausalLM(LlamaConfig(**CONFIG)).state_dict().items()
        }
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name in sorted(shapes):
        if name.endswith("norm.weight"):
            out[name] = torch.ones(shapes[name], dtype=torch.float32)
        else:
            out[name] = torch.randn(shapes[name], generator=gen, dtype=torch.float32) * WEIGHT_STD
    return out


def build_tiny_lm(out_dir: str | Path, seed: int = 0) -> ModelArtifact:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".tiny-lm-{seed}"
    staging.mkdir(exist_ok=True)
    save_safetensors(weights(seed), staging / "model.safetensors", {"format": "pt"})
    (staging / "config.json").write_bytes(canonical_json(CONFIG))
    (staging / "tokenizer.json").write_bytes(tokenizer_json())
    (staging / "tokenizer_config.json").write_bytes(tokenizer_config())
    (staging / "generation_config.json").write_bytes(
        canonical_json(
            {"bos_token_id": 256, "eos_token_id": 256, "pad_token_id": 257, "do_sample": False}
        )
    )
    files = {p.name: p for p in sorted(staging.iterdir())}
    art = write_model(f"tiny-lm-s{seed}", "causal-lm", files, out_dir)
    for p in files.values():
        p.unlink()
    staging.rmdir()
    return art
