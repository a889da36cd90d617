"""Generate the Python code of VCoin's messages from ``proto/``.

``proto/vcoin/<module>/v1/<name>.proto`` is the one source of every VCoin
message. This writes ``modules/<module>/<name>_pb2.py`` (the classes) and
``<name>_pb2.pyi`` (typed stubs from mypy-protobuf) beside the module that
owns them, as cosmos-sdk keeps ``tx.pb.go`` in ``x/<module>/types``.

Cosmos' own types (``cosmos/base/v1beta1/coin.proto``) are not copied into the
tree: their descriptors are taken from cosmpy's generated code and handed to
protoc as a descriptor set, and the generated imports point at cosmpy, so a
``Coin`` in a VCoin message is cosmpy's ``Coin`` class.

``--check`` generates into a temporary folder and fails, naming the files,
when the committed code differs (CI runs it). The output depends only on the
locked versions of grpcio-tools and mypy-protobuf.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

REPO = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO / "proto"
# Dependencies that VCoin's files import, by proto path -> cosmpy module.
EXTERNAL = {
    "cosmos/base/v1beta1/coin.proto": "cosmpy.protos.cosmos.base.v1beta1.coin_pb2",
}
_PATH = re.compile(r"^vcoin/(?P<module>[a-z_]+)/v1/(?P<name>[a-z_]+)\.proto$")


def sources() -> list[Path]:
    """The .proto files, relative to ``proto/``, in a stable order."""
    return sorted(p.relative_to(PROTO_ROOT) for p in PROTO_ROOT.rglob("*.proto"))


def target(rel: Path) -> Path:
    """Where the generated code of one proto file lives, without suffix."""
    m = _PATH.match(rel.as_posix())
    if not m:
        raise SystemExit(f"protogen: {rel} is not at proto/vcoin/<module>/v1/<name>.proto")
    return Path("modules") / m["module"] / f"{m['name']}_pb2"


def _descriptor_set(out: Path) -> None:
    """Write the external files (and what they import) as a FileDescriptorSet."""
    fds = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(fd: FileDescriptor) -> None:
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            add(dep)
        fdp = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(fdp)
        fds.file.append(fdp)

    for module in EXTERNAL.values():
        add(importlib.import_module(module).DESCRIPTOR)
    out.write_bytes(fds.SerializeToString())


def _rewrite(text: str) -> str:
    """Point generated imports at where the code lives in this tree."""
    for proto_path, module in EXTERNAL.items():
        dotted = proto_path.removesuffix(".proto").replace("/", ".")
        package = dotted.rsplit(".", 1)[0]
        real = module.rsplit(".", 1)[0]
        text = re.sub(rf"(?<![\w.]){re.escape(package)}\.", f"{real}.", text)
        imports = rf"^from {re.escape(package)} import"
        text = re.sub(imports, f"from {real} import", text, flags=re.M)
    # vcoin.<module>.v1.<name>_pb2 -> modules.<module>.<name>_pb2
    text = re.sub(r"(?<![\w.])vcoin\.([a-z_]+)\.v1\.(?=[a-z_]+_pb2)", r"modules.\1.", text)
    return re.sub(r"^from vcoin\.([a-z_]+)\.v1 import", r"from modules.\1 import", text, flags=re.M)


def generate(dest: Path) -> list[Path]:
    """Generate every proto file's code under ``dest``; returns the written paths."""
    files = sources()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        deps = work / "deps.pb"
        _descriptor_set(deps)
        raw = work / "out"
        raw.mkdir()
        cmd = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={PROTO_ROOT}",
            f"--descriptor_set_in={deps}",
            f"--python_out={raw}",
            f"--mypy_out={raw}",
            f"--plugin=protoc-gen-mypy={Path(sys.executable).parent / 'protoc-gen-mypy'}",
            *[str(f) for f in files],
        ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"protogen: protoc failed:\n{r.stderr}")
        written = []
        for rel in files:
            stem = rel.with_suffix("")
            for suffix in (".py", ".pyi"):
                src = raw / f"{stem}_pb2{suffix}"
                out = dest / target(rel).with_suffix(suffix)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(_rewrite(src.read_text()))
                written.append(out.relative_to(dest))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/protogen", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--check", action="store_true", help="fail if the committed code differs from a fresh run"
    )
    args = ap.parse_args(argv)
    if not args.check:
        for rel in generate(REPO):
            print(f"wrote {rel}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generated = generate(fresh)
        stale = [
            rel
            for rel in generated
            if not (REPO / rel).exists() or not filecmp.cmp(fresh / rel, REPO / rel, shallow=False)
        ]
        committed = {p.relative_to(REPO) for p in (REPO / "modules").rglob("*_pb2.py*")}
        orphans = sorted(committed - set(generated))
    if stale or orphans:
        for rel in stale:
            print(f"protogen: {rel} differs from what proto/ generates", file=sys.stderr)
        for rel in orphans:
            print(f"protogen: {rel} has no .proto under proto/", file=sys.stderr)
        print("protogen: run scripts/protogen and commit the result", file=sys.stderr)
        return 1
    print(f"protogen: generated code matches proto/ ({len(sources())} files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
