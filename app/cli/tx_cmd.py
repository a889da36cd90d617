"""``vcoind tx``: sign and send transactions; each module adds its own commands
(``modules/<name>/cli.py``, see chain/cli/__init__.py)."""

from __future__ import annotations

import argparse

from app.cli import models_cmd, training_cmd
from app.cli.plugins import register_plugins


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tx",
        help="sign a transaction with a keystore key and send it to the node",
        description="Build, sign (SIGN_MODE_DIRECT) and broadcast a transaction. The account "
        "number and sequence come from the node; the fee defaults to gas × min gas price.",
    )
    tx = p.add_subparsers(dest="tx_module", required=True, metavar="MODULE")

    register_plugins(tx, "register_tx")
    # `vcoind tx models register --from-dir DIR`: here, not in modules/jobs/cli.py,
    # because it builds and uploads the model with compute/ and worker/ code
    models_cmd.register_tx(tx)
    training_cmd.register_tx(tx)  # builds the dataset manifest with compute/ code
