"""``python -m worker.models build NAME --out DIR [--seed N] [--publish URL]``

Builds a model's blobs into DIR (named by sha256, the ``--models`` layout),
optionally uploads them to an artifact store, and prints the model hash and
its jobs-module registry entry as JSON. Names: ``tiny-lm`` (from a seed) and
``minilm`` (all-MiniLM-L6-v2 from its PyPI package).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from worker.models.artifact import ModelArtifact, publish, registry_entry

DEVNET_IDS = {"tiny-lm": "tiny-lm", "minilm": "all-minilm-l6-v2"}


def build(name: str, out: Path, seed: int) -> ModelArtifact:
    if name == "tiny-lm":
        from worker.models.tiny_lm import build_tiny_lm

        return build_tiny_lm(out, seed)
    if name == "minilm":
        from worker.models.minilm import build_minilm

        return build_minilm(out)
    raise SystemExit(f"unknown model {name!r}: use tiny-lm or minilm")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m worker.models", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a model's blobs")
    b.add_argument("name", choices=sorted(DEVNET_IDS))
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--seed", type=int, default=0, help="tiny-lm only")
    b.add_argument("--publish", metavar="URL", help="artifact store base URL to upload to")
    args = ap.parse_args(argv)
    art = build(args.name, args.out, args.seed)
    if args.publish:
        from chain.artifacts import ArtifactClient

        with ArtifactClient(args.publish) as client:
            publish(art, client)
    model_id = DEVNET_IDS[args.name] + (
        f"-s{args.seed}" if args.name == "tiny-lm" and args.seed else ""
    )
    print(
        json.dumps({"model_hash": art.digest, "registry": registry_entry(art, model_id)}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
