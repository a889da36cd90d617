"""``vcoind keys`` with eth_secp256k1 keys, and 0x addresses in the CLI and REST."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account as EthAccount

from app.cli.main import main
from chain.crypto import ETH_SECP256K1, PrivateKey, eth_address_of, from_bech32, to_eth_address
from chain.keystore import Keystore, KeystoreError
from genesis.devnet import dev_key
from tests.support.nodes import NodeProc, running_node

SECRET_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ABANDON = "abandon " * 11 + "about"
VCN = 10**18
EthAccount.enable_unaudited_hdwallet_features()  # from_mnemonic, MetaMask's derivation


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("VCOIN_HOME", "VCOIN_NODE", "VCOIN_KEYRING_PASSPHRASE", "VCOIN_KEYRING_BACKEND"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith(" "):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def test_keys_add_eth_shows_both_forms_and_one_ethereum_account(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test = ("--keyring-backend", "test")
    assert run(home, "-o", "json", "keys", "add", "metamask", "--algo", "eth_secp256k1", *test) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["algo"] == "eth_secp256k1"
    # the account is the key's Ethereum address: the same as MetaMask's for the mnemonic
    assert added["eth_address"] == EthAccount.from_mnemonic(added["mnemonic"]).address
    assert added["hex_address"] == added["eth_address"]
    assert from_bech32(added["address"]) == bytes.fromhex(added["hex_address"][2:])

    assert run(home, "keys", "show", "metamask") == 0
    out = capsys.readouterr().out
    f = fields(out)
    assert f["type"] == "eth_secp256k1" and f["address"] == added["address"]
    assert f"{added['hex_address']} (the same account, 0x form)" in out
    assert f["Ethereum address"].startswith(added["eth_address"] + " (the same account")

    assert run(home, "-o", "json", "keys", "show", "metamask") == 0
    shown = json.loads(capsys.readouterr().out)
    assert {k: shown[k] for k in ("address", "hex_address", "eth_address", "algo")} == {
        k: added[k] for k in ("address", "hex_address", "eth_address", "algo")
    }
    assert run(home, "keys", "show", "metamask", "-a") == 0
    assert capsys.readouterr().out.strip() == added["address"]
    # the key file remembers the type: loading gives an eth key for the same account
    key = Keystore(home).load("metamask")
    assert key.algo == ETH_SECP256K1 and key.bech32 == added["address"]


def test_keys_show_of_a_secp256k1_key_says_its_ethereum_address_is_another_account(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Keystore(home).import_secret("cosmos", SECRET_HEX, None, "test")
    assert run(home, "keys", "show", "cosmos") == 0
    out = capsys.readouterr().out
    f = fields(out)
    key = PrivateKey(bytes.fromhex(SECRET_HEX))
    assert f["type"] == "secp256k1" and f["address"] == key.bech32
    assert f"{to_eth_address(key.address)} (the same account, 0x form)" in out
    want_eth = EthAccount.from_key(SECRET_HEX).address  # 0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1
    assert f["Ethereum address"].startswith(want_eth)
    assert f"a DIFFERENT account from {key.bech32}" in f["Ethereum address"]
    assert want_eth != to_eth_address(key.address)
    assert run(home, "-o", "json", "keys", "show", "cosmos") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["algo"] == "secp256k1" and shown["eth_address"] == want_eth
    assert shown["hex_address"] == to_eth_address(key.address)


def test_keys_import_eth_matches_ethereum_wallets(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET_HEX))
    assert (
        run(home, "keys", "import", "hex", "--algo", "eth_secp256k1", "--keyring-backend", "test")
        == 0
    )
    capsys.readouterr()
    assert Keystore(home).show("hex").hex_address == EthAccount.from_key(SECRET_HEX).address
    monkeypatch.setattr(sys, "stdin", io.StringIO(ABANDON))
    args = ("--algo", "eth_secp256k1", "--keyring-backend", "test")
    assert run(home, "keys", "import", "words", *args) == 0
    capsys.readouterr()
    # MetaMask's path m/44'/60'/0'/0/0
    assert Keystore(home).show("words").hex_address == EthAccount.from_mnemonic(ABANDON).address
    # the same words as a Cosmos key: the Cosmos path and the ripemd160 address
    monkeypatch.setattr(sys, "stdin", io.StringIO(ABANDON))
    assert run(home, "keys", "import", "cosmoswords", "--keyring-backend", "test") == 0
    assert Keystore(home).show("cosmoswords").algo == "secp256k1"


def test_a_bad_key_type_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(home, "keys", "add", "x", "--algo", "ed25519", "--keyring-backend", "test")
    assert "invalid choice: 'ed25519'" in capsys.readouterr().err
    with pytest.raises(KeystoreError, match="unknown key type"):
        Keystore(home).add("x", None, "test", algo="ed25519")
    assert not Keystore(home).exists("x")


def test_an_old_key_file_without_a_type_is_secp256k1(home: Path) -> None:
    ks = Keystore(home)
    ks.import_secret("old", SECRET_HEX, None, "test")
    data = json.loads(ks.path("old").read_text())
    del data["algo"]
    ks.path("old").write_text(json.dumps(data))
    assert ks.show("old").algo == "secp256k1"
    assert ks.load("old").bech32 == PrivateKey(bytes.fromhex(SECRET_HEX)).bech32


def test_a_bad_0x_address_is_refused_before_touching_the_node(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"  # last letter's case flipped
    assert run(home, "--node", "127.0.0.1:1", "query", "balance", bad) == 1
    assert "wrong EIP-55 checksum" in capsys.readouterr().err
    assert run(home, "--node", "127.0.0.1:1", "query", "balance", "0x1234") == 1
    assert "4 hex digits" in capsys.readouterr().err


# -- a real node ------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    with running_node(tmp_path_factory.mktemp("eth-keys-node")) as n:
        yield n


@pytest.mark.slow
def test_an_eth_key_made_by_the_cli_sends_and_0x_works_everywhere(node: NodeProc) -> None:
    node.ok("keys", "add", "ethy", "--algo", "eth_secp256k1", "--keyring-backend", "test")
    info = json.loads(node.ok("-o", "json", "keys", "show", "ethy"))
    hex_addr, bech = info["hex_address"], info["address"]
    # fund it by its 0x address
    node.ok("tx", "bank", "send", "alice", hex_addr, "2VCN", "--yes")
    assert node.query("balance", hex_addr)["amount"] == str(2 * VCN)
    assert node.query("balance", hex_addr.lower())["address"] == bech
    # it signs a bank send with its eth key (keccak sign bytes, the ethermint type URL)
    bob = dev_key("bob")
    before = int(node.query("balance", "bob")["amount"])
    out = node.ok("tx", "bank", "send", "ethy", bob.bech32, "0.5VCN", "--yes")
    assert "code:    0" in out
    assert int(node.query("balance", "bob")["amount"]) == before + VCN // 2
    acc = node.query("account", hex_addr)
    assert acc["address"] == bech and acc["hex_address"] == hex_addr
    assert acc["pub_key_type"] == "eth_secp256k1" and acc["sequence"] == 1
    assert from_bech32(bech) == eth_address_of(bytes.fromhex(acc["pub_key"]))
    # REST takes 0x in the path and shows the key's type
    rest = node.rest
    bal = httpx.get(f"{rest}/cosmos/bank/v1beta1/balances/{hex_addr}").json()
    by_b32 = httpx.get(f"{rest}/cosmos/bank/v1beta1/balances/{bech}").json()
    assert bal == by_b32 and int(bal["balances"][0]["amount"]) < VCN * 3 // 2
    one = httpx.get(f"{rest}/cosmos/bank/v1beta1/balances/{hex_addr}/by_denom?denom=avcn")
    assert one.json()["balance"] == bal["balances"][0]
    got = httpx.get(f"{rest}/cosmos/auth/v1beta1/accounts/{hex_addr}").json()
    assert got["account"]["address"] == bech
    assert got["account"]["pub_key"]["@type"] == "/ethermint.crypto.v1.ethsecp256k1.PubKey"
    alice = httpx.get(f"{rest}/cosmos/auth/v1beta1/accounts/{dev_key('alice').bech32}").json()
    assert alice["account"]["pub_key"]["@type"] == "/cosmos.crypto.secp256k1.PubKey"
    # a mistyped checksum is a 400 that says so, and a CLI error
    i = next(i for i in range(2, 42) if hex_addr[i].isalpha())
    bad = hex_addr[:i] + hex_addr[i].swapcase() + hex_addr[i + 1 :]
    r = httpx.get(f"{rest}/cosmos/bank/v1beta1/balances/{bad}")
    assert r.status_code == 400 and "wrong EIP-55 checksum" in r.json()["message"]
    r2 = node.cli("query", "balance", bad)
    assert r2.returncode == 1 and "wrong EIP-55 checksum" in r2.stderr
