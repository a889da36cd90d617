"""``python -m worker.models build NAME --out DIR [--seed N] [--publish URL --dev-key NAME]``

Builds a model's blobs into DIR (named by sha256, the ``--models`` layout),
optionally uploads them to an artifact store (uploads are signed: ``--dev-key`` names a
dev account whose key derives from its public seed, or ``VCOIN_ARTIFACT_KEY`` holds a
key's secret in hex), and prints the model hash and
its jobs-module registry entry as JSON. Names: ``tiny-lm`` (from a seed) and
``minilm`` (all-MiniLM-L6-v2 from its PyPI package).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

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


def _signer(dev_key: str | None) -> Any:
    """The key that signs uploads: a dev account's, else ``VCOIN_ARTIFACT_KEY`` (hex)."""
    from chain.crypto import PrivateKey

    if dev_key:
        return PrivateKey.from_seed(dev_key.encode())
    secret = os.environ.get("VCOIN_ARTIFACT_KEY", "")
    if not secret:
        raise SystemExit("--publish needs a key: --dev-key NAME or VCOIN_ARTIFACT_KEY=<hex>")
    return PrivateKey(bytes.fromhex(secret))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m worker.models", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a model's blobs")
    b.add_argument("name", choices=sorted(DEVNET_IDS))
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--seed", type=int, default=0, help="tiny-lm only")
    b.add_argument("--publish", metavar="URL", help="artifact store base URL to upload to")
    b.add_argument("--dev-key", metavar="NAME", help="sign uploads with this dev account's key")
    args = ap.parse_args(argv)
    art = build(args.name, args.out, args.seed)
    if args.publish:
        from chain.artifacts import ArtifactClient

        with ArtifactClient(args.publish, _signer(args.dev_key)) as client:
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
