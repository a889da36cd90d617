"""What ``vcoind tx models register`` reads from a model folder, and its progress line,
without a node (the command against a real node: ``test_models_cli.py``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.cli.models_cmd import PICKLE_SUFFIXES, Progress, infer_kind, scan_folder
from chain.cli.common import CliError


def folder(tmp_path: Path, config: object = None, **files: bytes) -> Path:
    d = tmp_path / "m"
    d.mkdir(parents=True)
    cfg = config if config is not None else {"architectures": ["LlamaForCausalLM"]}
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "model.safetensors").write_bytes(b"\0" * 16)
    for name, data in files.items():
        p = d / name.replace("__", "/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return d


def test_a_hugging_face_folder_reads_as_its_files_hidden_ones_left_out(tmp_path: Path) -> None:
    extra = {"tokenizer.json": b"{}", ".git__HEAD": b"ref", "1_Pooling__config.json": b"{}"}
    d = folder(tmp_path, **extra)
    files = scan_folder(d)
    assert sorted(files) == ["1_Pooling/config.json", "config.json", "model.safetensors",
                             "tokenizer.json"]  # fmt: skip
    assert files["tokenizer.json"] == d / "tokenizer.json"


@pytest.mark.parametrize("suffix", PICKLE_SUFFIXES + (".BIN",))
def test_every_pickle_suffix_is_refused(tmp_path: Path, suffix: str) -> None:
    d = folder(tmp_path, **{f"weights{suffix}": b"\x80\x04"})
    with pytest.raises(CliError, match=f"pickle files \\(weights{suffix}\\).*nothing was uploaded"):
        scan_folder(d)


def test_a_folder_without_config_or_safetensors_is_refused(tmp_path: Path) -> None:
    d = folder(tmp_path)
    (d / "model.safetensors").unlink()
    with pytest.raises(CliError, match="no \\*.safetensors weights"):
        scan_folder(d)
    (d / "model.safetensors").write_bytes(b"\0")
    (d / "config.json").unlink()
    with pytest.raises(CliError, match="no config.json"):
        scan_folder(d)
    with pytest.raises(CliError, match="is not a folder"):
        scan_folder(d / "nothing")


def test_a_file_name_the_runtime_would_refuse_is_refused(tmp_path: Path) -> None:
    d = folder(tmp_path, **{"my tokenizer.json": b"{}"})
    with pytest.raises(CliError, match="'my tokenizer.json': file names"):
        scan_folder(d)


def test_the_kind_is_read_from_the_folder(tmp_path: Path) -> None:
    assert infer_kind(scan_folder(folder(tmp_path))) == "causal-lm"
    emb = folder(tmp_path / "e", {"architectures": ["BertModel"]}, **{"modules.json": b"[]"})
    assert infer_kind(scan_folder(emb)) == "sentence-embedding"
    other = folder(tmp_path / "o", {"architectures": ["BertModel"]})
    with pytest.raises(CliError, match="pass --kind"):
        infer_kind(scan_folder(other))


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_bytes_of_the_total_on_a_terminal_only() -> None:
    out = Tty()
    p = Progress(3 << 20, "my-lm", out, quiet=False)
    for _ in range(3):
        p.advance(1 << 20)
    p.finish()
    lines = out.getvalue().split("\r")[1:]
    assert lines == [
        "uploading my-lm: 1.0 MiB / 3.0 MiB (33 %)",
        "uploading my-lm: 2.0 MiB / 3.0 MiB (66 %)",
        "uploading my-lm: 3.0 MiB / 3.0 MiB (100 %)\n",
    ]
    for stream, quiet in ((io.StringIO(), False), (Tty(), True)):
        q = Progress(10, "x", stream, quiet)
        q.advance(10)
        q.finish()
        assert stream.getvalue() == ""
