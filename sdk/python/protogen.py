"""Generate ``vcoin_sdk/proto/<module>/tx_pb2.py(i)`` from the repository's ``proto/``.

The SDK carries its own copy of VCoin's generated message code, so that it imports
nothing of the node. The code is what the node's ``scripts/protogen`` writes (same
protoc, same mypy-protobuf, Cosmos' own types from cosmpy), with the module paths
``modules.<module>`` turned into ``vcoin_sdk.proto.<module>``. Run from the
repository root with the node's virtual environment::

    .venv/bin/python sdk/python/protogen.py           # rewrite
    .venv/bin/python sdk/python/protogen.py --check   # exit 1 if the copy is stale

``tests/sdk/test_proto.py`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

SDK = Path(__file__).resolve().parent
REPO = SDK.parents[1]
DEST = SDK / "vcoin_sdk" / "proto"


def _node_protogen() -> ModuleType:
    path = REPO / "scripts" / "protogen.py"
    spec = importlib.util.spec_from_file_location("_node_protogen", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def render() -> dict[Path, str]:
    """Relative path under ``vcoin_sdk/proto`` -> file text."""
    pg = _node_protogen()
    out: dict[Path, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel in pg.generate(Path(tmp)):
            # modules/<module>/tx_pb2.py -> <module>/tx_pb2.py
            text = (Path(tmp) / rel).read_text()
            text = re.sub(r"(?<![\w.])modules\.(?=[a-z_]+\.)", "vcoin_sdk.proto.", text)
            text = re.sub(r"^from modules\.", "from vcoin_sdk.proto.", text, flags=re.M)
            out[Path(*Path(rel).parts[1:])] = text
    modules = sorted({p.parts[0] for p in out})
    doc = '"""VCoin\'s message types, generated from proto/ by sdk/python/protogen.py."""\n'
    out[Path("__init__.py")] = doc
    for m in modules:
        out[Path(m) / "__init__.py"] = ""
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed copy differs")
    args = ap.parse_args(argv)
    files = render()
    if args.check:
        committed = {p.relative_to(DEST) for p in DEST.rglob("*") if p.is_file()}
        committed = {p for p in committed if "__pycache__" not in p.parts}
        bad = sorted(
            str(rel)
            for rel in committed | set(files)
            if rel not in files or rel not in committed or (DEST / rel).read_text() != files[rel]
        )
        if bad:
            print(f"protogen: stale or extra files in {DEST}: {', '.join(bad)}", file=sys.stderr)
            print("protogen: run sdk/python/protogen.py and commit the result", file=sys.stderr)
            return 1
        print(f"protogen: {DEST} matches proto/ ({len(files)} files)")
        return 0
    for rel, text in files.items():
        (DEST / rel).parent.mkdir(parents=True, exist_ok=True)
        (DEST / rel).write_text(text)
        print(f"wrote {DEST / rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
