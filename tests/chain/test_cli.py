"""``vcoind``: help, init, keys, amounts, genesis, plugins; then a real node end to end."""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.app import App
from app.cli import plugins
from app.cli.main import build_parser, main, subcommands
from app.cli.start_cmd import overrides_of
from app.node import Node
from chain.cli.common import CliError, add_tx_flags, parse_amount_avcn
from chain.config import NodeConfig, load_config
from chain.crypto import PrivateKey
from chain.keystore import Keystore, key_from_mnemonic
from chain.node import ListenError, listen
from genesis.devnet import DEV_ACCOUNTS, DEV_BALANCE, dev_key, genesis_doc
from tests.support import nodes
from tests.support.nodes import (
    VCOIND,
    NodeProc,
    free_port,
    running_node,
    vcoind,
    write_genesis,
)

VCN = 10**18


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("VCOIN_HOME", "VCOIN_NODE", "VCOIN_KEYRING_PASSPHRASE", "VCOIN_KEYRING_BACKEND"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def command_paths(
    p: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    yield path
    seen: set[int] = set()
    for name, child in subcommands(p).items():
        if id(child) not in seen:
            seen.add(id(child))
            yield from command_paths(child, (*path, name))


# -- help ---------------------------------------------------------------------


def test_every_command_has_help_that_renders(capsys: pytest.CaptureFixture[str]) -> None:
    paths = list(command_paths(build_parser()))
    expected = {
        ("init",),
        ("start",),
        ("keys", "add"),
        ("keys", "import"),
        ("keys", "list"),
        ("keys", "show"),
        ("keys", "export"),
        ("keys", "delete"),
        ("tx", "bank", "send"),
        ("tx", "params", "update"),
        ("query", "account"),
        ("query", "balance"),
        ("query", "block"),
        ("query", "tx"),
        ("query", "params"),
        ("query", "supply"),
        ("genesis", "validate"),
        ("genesis", "export"),
    }
    assert expected <= set(paths)
    for path in paths:
        with pytest.raises(SystemExit) as e:
            main([*path, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: vcoind " + " ".join(path)), path
        if not subcommands_of(path):  # a command that runs takes the global options
            assert all(flag in out for flag in ("--home", "--node", "--output")), path


def subcommands_of(path: tuple[str, ...]) -> bool:
    p = build_parser()
    for name in path:
        p = subcommands(p)[name]
    return bool(subcommands(p))


def test_every_subcommand_is_listed_with_a_help_line() -> None:
    def walk(p: argparse.ArgumentParser, where: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"`vcoind {where} {choice.dest}` has no help line"
                for name, child in action.choices.items():
                    walk(child, f"{where} {name}".strip())

    walk(build_parser(), "")


def test_console_script_is_installed() -> None:
    r = subprocess.run([VCOIND, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "vcoind init --dev-keys" in r.stdout


def test_global_options_work_before_and_after_the_command(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Keystore(home).import_secret("k", "11" * 32, None, "test")
    assert main(["keys", "list", "--home", str(home), "-o", "json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert main(["--home", str(home), "--output", "json", "keys", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == after and after[0]["name"] == "k"


# -- init and genesis -------------------------------------------------------


def test_init_writes_a_genesis_the_app_accepts(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(home, "init", "--dev-keys") == 0
    assert "vcoind start" in capsys.readouterr().out
    doc = json.loads((home / "config" / "genesis.json").read_text())
    assert doc["chain_id"] == "vcoin-devnet-1"
    app = App(tmp_path / "check")
    try:
        assert len(app.init_chain(doc["chain_id"], doc["app_state"])) == 32
        assert app.check_invariants() == []
        got = app.custom_query("bank", "balance", {"address": dev_key("alice").bech32})
        assert int(got["balance"]["amount"]) == DEV_BALANCE
    finally:
        app.close()
    # The node reads the config file init wrote.
    assert load_config(home) == NodeConfig(home=str(home))
    keys = Keystore(home).list()
    assert [k.name for k in keys] == sorted(DEV_ACCOUNTS)
    assert all(k.address == dev_key(k.name).bech32 and not k.encrypted for k in keys)
    assert run(home, "genesis", "validate") == 0
    assert "is valid: chain vcoin-devnet-1" in capsys.readouterr().out


@pytest.mark.parametrize("command", [("keys", "list"), ("--help",)])
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_output_into_a_closed_pipe_ends_quietly(
    home: Path, command: tuple[str, ...], unbuffered: bool
) -> None:
    """`vcoind keys list | head -0`: the reader is gone; no traceback, SIGPIPE's status.
    Buffered, the write fails only at the final flush (Python's own, at exit, prints
    "Exception ignored … BrokenPipeError" and exits 120 unless the CLI flushes first);
    unbuffered, the print itself fails. The environment is set here, not inherited."""
    assert run(home, "init") == 0
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONUNBUFFERED" and not k.startswith("VCOIN_")
    }
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = subprocess.run(
            [VCOIND, "--home", str(home), *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        os.close(write_end)
    # argparse drops a help text it could not write (unbuffered, nothing is left to flush)
    help_dropped = unbuffered and command == ("--help",)
    assert p.returncode == (0 if help_dropped else 141), p.stderr
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


def test_init_refuses_to_overwrite_without_the_flag(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(home, "init", "--chain-id", "first-1") == 0
    before = (home / "config" / "genesis.json").read_bytes()
    capsys.readouterr()
    assert run(home, "init", "--chain-id", "second-2") == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (home / "config" / "genesis.json").read_bytes() == before
    assert run(home, "init", "--chain-id", "second-2", "--overwrite") == 0
    assert json.loads((home / "config" / "genesis.json").read_text())["chain_id"] == "second-2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["app_state"]["bank"]["balances"][0].update(address="vcoin1xyz"), "vcoin1xyz"),
        (lambda d: d.update(chain_id=""), "chain_id"),
        (lambda d: d["app_state"].update(nosuch={}), "unknown modules"),
        (lambda d: d.update(genesis_time="yesterday"), "RFC 3339"),
    ],
)
def test_genesis_validate_names_what_is_wrong(
    home: Path, capsys: pytest.CaptureFixture[str], change: object, message: str
) -> None:
    assert run(home, "init") == 0
    path = home / "config" / "genesis.json"
    doc = json.loads(path.read_text())
    change(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    assert run(home, "genesis", "validate", str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_genesis_export_and_refusal_while_locked(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(home, "init") == 0
    assert run(home, "genesis", "export") == 1
    assert "never run a node" in capsys.readouterr().err
    doc = json.loads((home / "config" / "genesis.json").read_text())
    app = App(home / "data" / "state")
    app.init_chain(doc["chain_id"], doc["app_state"])
    capsys.readouterr()
    assert run(home, "genesis", "export") == 1  # the App above holds the lock, like a node
    assert "locked: a node is running" in capsys.readouterr().err
    app.close()
    out = tmp_path / "exported.json"
    assert run(home, "genesis", "export", "--out", str(out)) == 0
    exported = json.loads(out.read_text())
    assert exported["initial_height"] == "1" and exported["chain_id"] == doc["chain_id"]
    assert run(home, "genesis", "validate", str(out)) == 0


# -- keys -------------------------------------------------------------------


def test_keys_add_export_with_passphrase_file(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("s3cret passphrase\n")
    bad.write_text("wrong passphrase\n")
    args = ["--passphrase-file", str(good), "--light-kdf"]
    assert run(home, "-o", "json", "keys", "add", "carol", *args) == 0
    added = json.loads(capsys.readouterr().out)
    assert len(added["mnemonic"].split()) == 24 and added["encrypted"] is True
    assert run(home, "keys", "export", "carol", "--passphrase-file", str(bad), "--yes") == 1
    assert "wrong passphrase for key 'carol'" in capsys.readouterr().err
    assert run(home, "keys", "export", "carol", "--passphrase-file", str(good), "--yes") == 0
    secret = capsys.readouterr().out.strip()
    assert secret == key_from_mnemonic(added["mnemonic"]).secret.hex()
    assert run(home, "keys", "show", "carol", "-a") == 0
    assert capsys.readouterr().out.strip() == added["address"]


def test_keys_import_from_stdin_and_env_passphrase(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VCOIN_KEYRING_PASSPHRASE", "from the environment")
    monkeypatch.setattr(sys, "stdin", io.StringIO("abandon " * 11 + "about\n"))
    assert run(home, "keys", "import", "abandon", "--light-kdf") == 0
    capsys.readouterr()
    key = Keystore(home).load("abandon", "from the environment")
    assert key.bech32 == key_from_mnemonic("abandon " * 11 + "about").bech32
    monkeypatch.setattr(sys, "stdin", io.StringIO("12" * 31))
    assert run(home, "keys", "import", "short", "--keyring-backend", "test") == 1
    assert "31 bytes" in capsys.readouterr().err and not Keystore(home).exists("short")


def test_keys_delete_needs_confirmation(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Keystore(home).import_secret("gone", "13" * 32, None, "test")
    assert run(home, "keys", "delete", "gone") == 1  # stdin is not a terminal under pytest
    assert "--yes" in capsys.readouterr().err and Keystore(home).exists("gone")
    assert run(home, "keys", "delete", "gone", "--yes") == 0
    assert not Keystore(home).exists("gone")
    assert run(home, "keys", "show", "gone") == 1
    assert "no key named 'gone'" in capsys.readouterr().err


# -- amounts and offline refusals ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "avcn"),
    [
        ("1.5VCN", 15 * 10**17),
        ("1vcn", VCN),
        ("1000avcn", 1000),
        ("0.000000000000000001VCN", 1),
    ],
)
def test_amounts_parse(text: str, avcn: int) -> None:
    assert parse_amount_avcn(text) == avcn


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.5avcn", "whole numbers"),
        ("0.0000000000000000001VCN", "at most 18 decimals"),
        ("0VCN", "zero"),
        ("abc", "write it in VCN or avcn"),
        ("5uatom", "write it in VCN or avcn"),
        ("", "empty"),
        ("1VCN,2VCN", "VCN or avcn"),
    ],
)
def test_bad_amounts_are_explained(text: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        parse_amount_avcn(text)


def test_send_refuses_bad_input_before_touching_the_node(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(home, "init", "--dev-keys") == 0
    capsys.readouterr()
    assert run(home, "tx", "bank", "send", "alice", "bob", "1.5XYZ", "--yes") == 1
    assert "write it in VCN or avcn" in capsys.readouterr().err
    assert run(home, "tx", "bank", "send", "alice", "nobody", "1VCN", "--yes") == 1
    assert "neither a vcoin1… address nor a key name" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        run(home, "tx", "bank", "send", "alice", "bob", "1VCN", "--gas", "lots")
    assert e.value.code == 2
    assert "--gas must be 'auto' or a positive integer" in capsys.readouterr().err


def test_unreachable_node_is_reported(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = f"http://127.0.0.1:{free_port()}"
    assert run(home, "query", "balance", dev_key("bob").bech32, "--node", node) == 1
    assert "cannot reach the node" in capsys.readouterr().err


def test_start_without_init_says_what_to_do(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(home, "start") == 1
    assert "vcoind init" in capsys.readouterr().err


@pytest.mark.slow
def test_start_on_a_port_in_use_exits_with_what_to_do_and_keeps_the_chain(tmp_path: Path) -> None:
    """A held RPC port stops ``vcoind start`` at once, naming the address and the flag,
    instead of a node that produces blocks with no RPC; the database it opened is closed,
    so the same home starts on another port and resumes the chain."""
    home = tmp_path / "busy"
    to = PrivateKey.from_seed(b"cli-busy-port").bech32
    with running_node(home) as n:
        assert n.cli("tx", "bank", "send", "faucet", to, "2VCN", "-y").returncode == 0
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        busy = f"127.0.0.1:{held.getsockname()[1]}"
        r = subprocess.run(
            [
                VCOIND,
                "--home",
                str(home),
                "start",
                "--instant",
                "--rpc-laddr",
                busy,
                "--rest-laddr",
                f"127.0.0.1:{free_port()}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=nodes.clean_env(),
        )
    assert r.returncode == 1, r.stderr
    assert f"rpc: cannot listen on {busy}" in r.stderr and "--rpc-laddr" in r.stderr
    assert "Traceback" not in r.stderr
    with running_node(home) as n:
        assert n.cli("query", "balance", to).stdout.startswith("2 VCN")


def test_node_start_releases_the_first_port_when_the_second_is_held(tmp_path: Path) -> None:
    write_genesis(tmp_path, genesis_doc())
    rpc = f"127.0.0.1:{free_port()}"
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        rest = f"127.0.0.1:{held.getsockname()[1]}"
        node = Node(NodeConfig(home=str(tmp_path), instant=True, rpc_laddr=rpc, rest_laddr=rest))
        with pytest.raises(ListenError, match=f"rest: cannot listen on {rest}: .*--rest-laddr"):
            node.start()
        node.stop()
    with socket.socket() as again:  # the RPC address it had bound is free again
        again.bind(("127.0.0.1", int(rpc.rpartition(":")[2])))
    with pytest.raises(ListenError, match="rpc: cannot listen on 'nowhere.invalid:1'"):
        listen("nowhere.invalid:1", "rpc")


def test_start_flags_map_to_config_names() -> None:
    args = build_parser().parse_args(
        [
            "start",
            "--block-time",
            "250ms",
            "--instant",
            "--rpc-laddr",
            "0.0.0.0:1",
            "--log-format",
            "text",
        ]
    )
    assert overrides_of(args) == {
        "block_time_ms": 250,
        "instant": True,
        "rpc_laddr": "0.0.0.0:1",
        "log_format": "text",
    }
    assert overrides_of(build_parser().parse_args(["start", "--block-time", "2"])) == {
        "block_time_ms": 2000
    }


def test_signature_helper_setting_from_flag_env_and_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = build_parser().parse_args(["start", "--sig-verify-workers", "0"])
    assert overrides_of(args) == {"sig_verify_workers": 0}
    assert load_config(home).sig_verify_workers == 1  # the default: one helper
    monkeypatch.setenv("VCOIN_SIG_VERIFY_WORKERS", "0")
    assert load_config(home).sig_verify_workers == 0
    monkeypatch.setenv("VCOIN_SIG_VERIFY_WORKERS", "-1")
    with pytest.raises(ValueError, match="sig_verify_workers must be between 0 and 16"):
        load_config(home)


# -- module plugins ---------------------------------------------------------


def test_module_cli_plugins_are_discovered(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module that ships ``modules/<m>/cli.py`` gets its commands without CLI edits."""
    plugin = types.ModuleType("modules.pluggy.cli")

    def register_tx(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        p = sub.add_parser("pluggy", help="pluggy txs").add_subparsers(dest="c", required=True)
        do = p.add_parser("do", help="do a pluggy thing")
        add_tx_flags(do)
        do.set_defaults(func=lambda args, env: print(f"did with {args.from_key} in {env.home}"))

    def register_query(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        q = sub.add_parser("pluggy", help="pluggy state")
        q.set_defaults(func=lambda args, env: 7)

    plugin.register_tx = register_tx  # type: ignore[attr-defined]
    plugin.register_query = register_query  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "modules.pluggy.cli", plugin)
    monkeypatch.setattr(plugins, "module_names", lambda: ["auth", "bank", "pluggy"])
    assert main(["tx", "pluggy", "do", "--from", "alice", "--home", str(home)]) == 0
    assert capsys.readouterr().out.strip() == f"did with alice in {home}"
    assert main(["query", "pluggy"]) == 7


def test_a_broken_plugin_does_not_break_the_cli(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = types.ModuleType("modules.broken.cli")

    def register_tx(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        raise TypeError("type '_SubParsersAction' is not subscriptable")

    plugin.register_tx = register_tx  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "modules.broken.cli", plugin)
    monkeypatch.setattr(plugins, "module_names", lambda: ["auth", "bank", "broken"])
    assert run(home, "keys", "list") == 0
    err = capsys.readouterr().err
    assert "the broken module's commands are unavailable: TypeError" in err


def test_plugins_come_from_the_wiring() -> None:
    assert plugins.module_names()[:2] == ["auth", "bank"]


# -- a real node --------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    with running_node(tmp_path_factory.mktemp("cli-node")) as n:
        yield n


@pytest.mark.slow
def test_send_vcn_and_read_the_balance(node: NodeProc) -> None:
    to = PrivateKey.from_seed(b"cli-test-recipient").bech32
    r = node.cli("tx", "bank", "send", "alice", to, "1.5VCN", "--yes")
    assert r.returncode == 0, r.stderr
    fields = dict(line.split(":", 1) for line in r.stdout.splitlines())
    assert fields["code"].strip() == "0" and int(fields["height"]) > 0
    txhash = fields["txhash"].strip()
    r = node.cli("query", "balance", to)
    assert r.returncode == 0 and r.stdout.startswith("1.5 VCN (1500000000000000000 avcn)")
    r = node.cli("-o", "json", "query", "balance", to)
    assert json.loads(r.stdout)["amount"] == "1500000000000000000"
    r = node.cli("query", "tx", txhash)
    assert r.returncode == 0 and "/cosmos.bank.v1beta1.MsgSend" in r.stdout
    r = node.cli("tx", "bank", "send", "bob", to, "250avcn", "--gas", "auto", "--yes")
    assert r.returncode == 0, r.stderr
    r = node.cli("-o", "json", "query", "account", to)
    assert json.loads(r.stdout)["sequence"] == 0
    for what in (("block",), ("supply",), ("params", "auth")):
        r = node.cli("query", *what)
        assert r.returncode == 0, (what, r.stderr)


@pytest.mark.slow
def test_refused_tx_exits_non_zero_with_the_chains_message(node: NodeProc) -> None:
    r = node.cli("tx", "bank", "send", "bob", "alice", "99999999VCN", "--yes")
    assert r.returncode == 1
    assert "insufficient funds" in r.stderr and "before it entered a block" in r.stderr
    r = node.cli(
        "tx", "params", "update", "bank", '{"send_enabled": true}', "--from", "alice", "-y"
    )
    assert r.returncode == 1 and "may not change params" in r.stderr
    r = node.cli(
        "tx", "params", "update", "auth", '{"max_memo_characters": 300}', "--from", "platform", "-y"
    )
    assert r.returncode == 0, r.stderr
    r = node.cli("-o", "json", "query", "params", "auth")
    params = json.loads(r.stdout)
    assert params["max_memo_characters"] == 300
    assert params["authority"] == dev_key("platform").bech32  # merged, not reset


@pytest.mark.slow
def test_restart_resumes_the_same_chain(tmp_path: Path) -> None:
    home = tmp_path / "restart"
    to = PrivateKey.from_seed(b"cli-restart").bech32
    with running_node(home) as n:
        assert n.cli("tx", "bank", "send", "faucet", to, "3VCN", "-y").returncode == 0
        height = int(
            json.loads(n.cli("-o", "json", "query", "block").stdout)["block"]["header"]["height"]
        )
    assert n.proc.returncode == 0, n.log()
    r = vcoind("genesis", "export", home=home)
    assert r.returncode == 0, r.stderr
    balances = json.loads(r.stdout)["app_state"]["bank"]["balances"]
    assert {"address": to, "coins": [{"denom": "avcn", "amount": str(3 * VCN)}]} in balances
    with running_node(home) as n:
        r = n.cli("-o", "json", "query", "block")
        assert int(json.loads(r.stdout)["block"]["header"]["height"]) >= height
        assert n.cli("query", "balance", to).stdout.startswith("3 VCN")
