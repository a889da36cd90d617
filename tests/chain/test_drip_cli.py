"""``vcoind tx drip fund|claim`` and ``vcoind query drip pool|dripped`` against a real
node: a new key with no coins gets its drip from one command and pays no fee."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.main import main
from tests.support.nodes import inproc_node


@pytest.fixture(scope="module")
def rpc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with inproc_node(tmp_path_factory.mktemp("drip-cli-node")) as node:
        yield f"http://{node.cfg.rpc_laddr}"


def test_fund_the_pool_then_a_new_key_claims_its_drip_once(
    rpc: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, secret = tmp_path / "home", tmp_path / "pass"
    secret.write_text("drip passphrase\n")

    def run(*args: str) -> int:
        return main(["--home", str(home), *args, "--node", rpc])

    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    add = ["keys", "add", "newbie", "--passphrase-file", str(secret), "--light-kdf"]
    assert main(["--home", str(home), *add]) == 0
    capsys.readouterr()
    assert run("tx", "drip", "fund", "faucet", "25VCN", "-y") == 0
    capsys.readouterr()
    assert run("query", "drip", "pool") == 0
    assert ": 25 VCN, 2 drips of 10 VCN left" in capsys.readouterr().out

    assert run("tx", "drip", "claim", "newbie", "--passphrase-file", str(secret), "-y") == 0
    out = capsys.readouterr().out
    assert "code:    0" in out
    assert run("-o", "json", "query", "balance", "newbie") == 0
    assert json.loads(capsys.readouterr().out)["amount"] == str(10 * 10**18)  # no fee taken
    assert run("query", "drip", "dripped", "newbie") == 0
    assert "dripped at height" in capsys.readouterr().out

    # a second claim: the key exists now, pays its fee, and the pool says no
    assert run("tx", "drip", "claim", "newbie", "--passphrase-file", str(secret), "-y") == 1
    assert "already received its drip" in capsys.readouterr().err
    assert run("query", "drip", "dripped", "alice") == 0
    assert "no drip yet" in capsys.readouterr().out
