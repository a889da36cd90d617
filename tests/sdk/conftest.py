"""Fixtures of the SDK tests (``tests/sdk``): a real marketplace for every SDK to talk to.

``sdk_devnet`` (session scope) starts, once per pytest run, what ``scripts/devnet``
runs, as real processes: ``vcoind start`` (1 s blocks, the devnet genesis and its
models published into the node's artifact store), one worker (``worker1``,
``vcoin-worker``, bonded and registered, serving ``tiny-lm`` and
``all-minilm-l6-v2``) and one oracle (``oracle1``, ``vcoin-oracle``, canaries off).
Jobs run in the Docker sandbox when an engine and the worker image are there,
otherwise in the process sandbox (``tests.e2e.market.sandbox_kind``; under
``VCOIN_REQUIRE_DOCKER=1`` a missing engine fails).

Each SDK's tests sign with their own funded account (a BIP-39 mnemonic at
m/44'/118'/0'/0/0), so that the Python, Go and TypeScript tests never race for
a sequence number. The Go and TypeScript tests run from pytest wrappers that
pass ``SdkDevnet.env()`` to ``go test`` / ``npm test``.

The SDK package itself (``sdk/python``) is put on ``sys.path`` here, so the tests
use the tree's source whether or not ``pip install -e sdk/python`` was run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / "sdk" / "python"
if str(SDK_PYTHON) not in sys.path:
    sys.path.insert(0, str(SDK_PYTHON))

VCN = 10**18
FUNDED_VCN = 1_000_000  # each SDK account's genesis balance, in VCN

# The funded accounts of the SDK tests: sha256(b"vcoin-sdk-test-" + name) as
# 256-bit BIP-39 entropy. Public: for tests only.
SDK_MNEMONICS: dict[str, str] = {
    "python": "dignity birth mechanic hurdle chair material wrap village water primary lion "
    "oxygen adjust aunt behind cage beef spoon forest under topic master apart weird",
    "go": "person woman inch maid coral remove seed stool critic shove load rail inquiry also "
    "visit hospital target speak world subway panel snap exclude true",
    "js": "remember orphan fame praise mixture civil globe deputy title ability wear weird rug "
    "scene debate clinic board lawsuit awesome cage broom decorate pet pencil",
    "bench": "biology canyon kangaroo fancy stool input rather salute sand hope decide mimic "
    "mercy voyage rotate mountain enforce chair universe fade save old wall sudden",
}
SDK_ADDRESSES: dict[str, str] = {
    "python": "vcoin1t3dnhgq28ap9eklu8x3u6py9jzuapctgu2huzl",
    "go": "vcoin1aptcy65u3yfwkyaejlhkcqkqel3xwg83gl8gkd",
    "js": "vcoin1fsj4yslfhj6x2zdehpraf33csgs9qppxwpdhsl",
    "bench": "vcoin15yl5er624perwzk9ekcs35d64dwev6rp9mgqa6",
}


@dataclass
class SdkDevnet:
    """A running node with a worker and an oracle (see the module docstring).

    * ``rpc_url``: the node's CometBFT-style RPC, e.g. ``http://127.0.0.1:PORT``
      (``/websocket`` for subscriptions).
    * ``rest_url``: Cosmos REST and the artifact store (``/artifacts/{sha256}``).
    * ``chain_id``: ``vcoin-devnet-1``.
    * ``mnemonics``: ``{"python", "go", "js", "bench"} -> mnemonic``, one funded
      account (1,000,000 VCN at genesis) per SDK; ``addresses``: their ``vcoin1…``.
    * ``dev_keys``: the devnet's dev accounts (``alice``, ``bob``, … also funded;
      ``worker1`` and ``oracle1`` are in use by the daemons) as 32-byte private
      keys in hex, for an SDK's import-from-hex path.
    * ``models``: the models the worker serves (``tiny-lm`` for text-generation,
      ``all-minilm-l6-v2`` for embedding); ``worker``, ``oracle``: their addresses.
    * ``home``: the node's home folder (logs: ``home/node.log``).
    * ``env()``: all of the above as ``VCOIN_SDK_*`` environment variables for the
      Go and TypeScript test runs: ``VCOIN_SDK_RPC``, ``VCOIN_SDK_REST``,
      ``VCOIN_SDK_CHAIN_ID``, ``VCOIN_SDK_MNEMONIC_<NAME>`` (upper case),
      ``VCOIN_SDK_WORKER``, ``VCOIN_SDK_ORACLE``.
    * ``check_alive()``: fails naming a worker or oracle that died, with its log tail.
    """

    rpc_url: str
    rest_url: str
    chain_id: str
    mnemonics: dict[str, str]
    addresses: dict[str, str]
    dev_keys: dict[str, str]
    worker: str
    oracle: str
    home: Path
    models: tuple[str, ...] = ("tiny-lm", "all-minilm-l6-v2")
    market: Any = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        out = {
            "VCOIN_SDK_RPC": self.rpc_url,
            "VCOIN_SDK_REST": self.rest_url,
            "VCOIN_SDK_CHAIN_ID": self.chain_id,
            "VCOIN_SDK_WORKER": self.worker,
            "VCOIN_SDK_ORACLE": self.oracle,
        }
        for name, words in self.mnemonics.items():
            out[f"VCOIN_SDK_MNEMONIC_{name.upper()}"] = words
        return out

    def check_alive(self) -> None:
        for d in self.market.daemons:
            assert d.alive(), f"{d.name} died:\n{d.tail()}"


def sdk_genesis() -> dict[str, Any]:
    """The end-to-end tests' genesis (the devnet's models and params, worker bonds
    from 100 VCN) with the SDK accounts funded."""
    from tests.e2e.market import E2E_GENESIS
    from tests.support.genesis import market_genesis

    doc = market_genesis(**E2E_GENESIS)
    balances = doc["app_state"]["bank"]["balances"]
    for addr in SDK_ADDRESSES.values():
        balances.append({"address": addr, "coins": [{"denom": "avcn",
                                                     "amount": str(FUNDED_VCN * VCN)}]})
    return doc


@pytest.fixture(scope="session")
def sdk_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkDevnet]:
    """A node, a worker and an oracle for the whole session; see ``SdkDevnet``."""
    from genesis.devnet import CHAIN_ID, DEV_ACCOUNTS, dev_key
    from tests.e2e.market import market_of

    tmp = tmp_path_factory.mktemp("sdk-devnet")
    with market_of(tmp, sdk_genesis()) as m:
        w = m.worker("worker1")
        o = m.oracle("oracle1", "--no-canaries")
        w.start()
        o.start()
        yield SdkDevnet(
            rpc_url=m.node.rpc,
            rest_url=m.node.rest,
            chain_id=CHAIN_ID,
            mnemonics=dict(SDK_MNEMONICS),
            addresses=dict(SDK_ADDRESSES),
            dev_keys={n: dev_key(n).secret.hex() for n in DEV_ACCOUNTS},
            worker=w.address,
            oracle=o.address,
            home=m.node.home,
            market=m,
        )
