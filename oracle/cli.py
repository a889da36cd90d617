"""``vcoin-oracle``: the VCoin verification oracle.

An oracle bonds VCN, watches the chain for results picked for checking,
re-executes those jobs in the same sandbox and runtime as the workers,
compares the outputs with a per-task metric, and signs its verdict with an
ed25519 key registered on chain. It also posts hidden canary jobs whose
answer it knows, and reveals that answer after a worker submits.

Quick start (a local devnet node on the default ports):

    vcoin-oracle init                 # keys and config in ~/.vcoin-oracle
    # fund the printed address, then:
    vcoin-oracle register             # bond the oracle minimum, register the key
    vcoin-oracle start                # run until SIGTERM / Ctrl-C

Passphrases come from --passphrase-file, else $VCOIN_KEYRING_PASSPHRASE, else
a prompt. Logs are JSON lines on stderr; Prometheus metrics are served at
http://127.0.0.1:9464/metrics (--metrics).

Settings: defaults < <home>/config.toml (written by init; an older home's
config.json is still read) < env VCOIN_ORACLE_<KEY> < flags (--rpc, --artifacts,
--sandbox, --device, --metrics, --no-canaries, --log-level, --log-format).
An unknown key or a bad value stops the command with a message.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from chain.cli.pipes import run_cli
from chain.keystore import LIGHT_SCRYPT_N, Keystore, KeystoreError, read_passphrase
from oracle.config import HOME_ENV, ConfigError, OracleConfig, default_home, settings_help
from oracle.keys import ed25519_path, load_ed25519, save_ed25519

log = logging.getLogger("vcoin.oracle.cli")


SANDBOX_HELP = "where re-executions run: docker, process (less isolated), auto (docker if up)"
DEVICE_HELP = "the runtime's device; use the workers' device class (bit-exact checks)"


class CliError(Exception):
    pass


FLAG_SETTINGS = ("rpc", "artifacts", "sandbox", "device", "metrics", "log_level", "log_format")


def _cfg(args: argparse.Namespace) -> OracleConfig:
    """The settings: defaults < config file < VCOIN_ORACLE_* env < this command's flags."""
    overrides = {k: getattr(args, k, None) for k in FLAG_SETTINGS}
    if getattr(args, "no_canaries", False):
        overrides["canaries"] = False
    try:
        return OracleConfig.load(args.home, overrides)
    except ConfigError as e:
        raise CliError(f"settings: {e}") from e


def _passphrase(args: argparse.Namespace, cfg: OracleConfig, confirm: bool = False) -> str | None:
    if cfg.keyring_backend == "test":
        return None
    return read_passphrase(getattr(args, "passphrase_file", None), confirm=confirm)


def load_keys(args: argparse.Namespace, cfg: OracleConfig) -> tuple[Any, Any]:
    ks = Keystore(cfg.home_path)
    pw = _passphrase(args, cfg)
    return ks.load(cfg.key_name, pw), load_ed25519(ed25519_path(cfg.home_path, cfg.key_name), pw)


# -- init --------------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from nacl.signing import SigningKey

    home = Path(args.home) if args.home else default_home()
    try:
        cfg = OracleConfig(home=str(home)).with_(
            key_name=args.key_name,
            keyring_backend=args.keyring_backend,
            rpc=args.rpc,
            artifacts=args.artifacts,
            sandbox=args.sandbox,
            device=args.device,
        )
    except ConfigError as e:
        raise CliError(f"settings: {e}") from e
    if (cfg.file.exists() or cfg.legacy_file.exists()) and not args.force:
        raise CliError(f"{home} is already initialised; pass --force to overwrite the config")
    pw = _passphrase(args, cfg, confirm=True)
    ks = Keystore(home, scrypt_n=LIGHT_SCRYPT_N if args.light_kdf else Keystore(home).scrypt_n)
    mnemonic = None
    if args.dev_key:
        if cfg.keyring_backend != "test":
            raise CliError("--dev-key is for devnets: use it with --keyring-backend test")
        from genesis.devnet import dev_key

        info = ks.save(cfg.key_name, dev_key(args.dev_key), pw, "test", overwrite=args.force)
    elif args.import_secret_file:
        secret = Path(args.import_secret_file).read_text().strip()
        info = ks.import_secret(
            cfg.key_name, secret, pw, args.keyring_backend, overwrite=args.force
        )
    elif ks.exists(cfg.key_name) and not args.force:
        info = ks.show(cfg.key_name)
    else:
        info, mnemonic = ks.add(cfg.key_name, pw, args.keyring_backend, overwrite=args.force)
    edpath = ed25519_path(home, cfg.key_name)
    if edpath.exists() and not args.force:
        pub = load_ed25519(edpath, pw).verify_key.encode().hex()
    else:
        cost = "interactive" if args.light_kdf else "moderate"
        pub = save_ed25519(edpath, SigningKey.generate(), pw, cfg.keyring_backend, cost, True)
    cfg.save()
    print(f"oracle home     {home}")
    print(f"account         {info.address}   (secp256k1, key '{cfg.key_name}')")
    print(f"attestation key {pub}   (ed25519)")
    if mnemonic:
        print("\nBackup mnemonic of the account key (shown once, write it down):\n" + mnemonic)
    print("\nNext: fund the account, then `vcoin-oracle register`.")
    return 0


# -- register / stake ------------------------------------------------------------------------
def cmd_bond(args: argparse.Namespace) -> int:
    from chain.client import NodeClient
    from chain.coins import DENOM, parse_coin_str
    from modules.staking.msgs import Coin, MsgBond

    cfg = _cfg(args)
    account, signer = load_keys(args, cfg)
    with NodeClient(cfg.rpc) as node:
        if args.amount:
            coins = dict(parse_coin_str(args.amount))
            if set(coins) != {DENOM}:
                raise CliError(f"bond in VCN or {DENOM}, e.g. 10000VCN")
            amount = coins[DENOM]
        elif args.cmd == "register":
            params = node.query("staking", "params")
            have = int(
                node.query("staking", "bond", {"address": account.bech32, "role": "oracle"})[
                    "bonded"
                ]
            )
            amount = max(0, int(params["min_bond_oracle"]) - have)
            if amount == 0:
                amount = 1  # already at the minimum: re-send the key with a token amount
        else:
            raise CliError("stake needs --amount (e.g. --amount 5000VCN)")
        msg = MsgBond(
            address=account.bech32,
            role="oracle",
            amount=Coin(denom=DENOM, amount=str(amount)),
            ed25519_pubkey=bytes(signer.verify_key),
        )
        resp = node.send_tx(account, [msg], gas="auto")
        bond = node.query("staking", "bond", {"address": account.bech32, "role": "oracle"})
    print(f"bonded {amount}{DENOM} as oracle in block {resp.height} (tx {resp.hash})")
    print(
        f"oracle bond now {bond['bonded']}{DENOM}, active={bond['active']}, "
        f"ed25519 key {bond['ed25519_pubkey']}"
    )
    return 0


# -- start -----------------------------------------------------------------------------------
def build_oracle(args: argparse.Namespace, cfg: OracleConfig) -> Any:
    from chain.artifacts import ArtifactClient
    from chain.client import NodeClient
    from oracle.daemon import Oracle
    from oracle.executor import Executor
    from oracle.expected import SandboxRunner

    account, signer = load_keys(args, cfg)
    artifacts = ArtifactClient(cfg.artifacts, account)  # the oracle key signs its tokens
    runner = SandboxRunner(cfg.sandbox, cfg.device, cfg.run_timeout_s)
    # its own node client (the checks run on another thread): manifests held to model records
    executor = Executor(artifacts, runner, cfg.home_path, cfg.device, chain=NodeClient(cfg.rpc))
    return Oracle(cfg, account, signer, NodeClient(cfg.rpc), artifacts, executor)


def cmd_start(args: argparse.Namespace) -> int:
    from chain.logs import setup_logging

    cfg = _cfg(args)
    setup_logging(cfg.log_level, cfg.log_format)
    oracle = build_oracle(args, cfg)
    if cfg.metrics:
        oracle.metrics.serve(cfg.metrics)
        log.info("metrics on http://%s/metrics", cfg.metrics)
    signals = {"n": 0}

    def on_signal(signum: int, _frame: object) -> None:
        signals["n"] += 1
        if signals["n"] > 1:
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            raise SystemExit(130)
        log.info("received %s: finishing up", signal.Signals(signum).name)
        oracle.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return int(oracle.run())


# -- status ----------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    import json

    from chain.client import NodeClient
    from oracle.state import StateFile

    cfg = _cfg(args)
    info = Keystore(cfg.home_path).show(cfg.key_name)
    edpath = ed25519_path(cfg.home_path, cfg.key_name)
    pub = json.loads(edpath.read_text())["public_key"] if edpath.exists() else None
    out: dict[str, Any] = {"home": str(cfg.home_path), "account": info.address, "ed25519": pub}
    st = StateFile(cfg.home_path / "state.json").load()
    if st is not None:
        out["state"] = {
            "chain_id": st.chain_id,
            "last_height": st.last_height,
            "owed_checks": sorted(st.checks),
            "attested": len(st.attested),
            "canaries": {str(k): (c.stage, c.job_id, c.outcome) for k, c in st.canaries.items()},
        }
    try:
        with NodeClient(cfg.rpc, timeout=5) as node:
            out["bond"] = node.query("staking", "bond", {"address": info.address, "role": "oracle"})
            out["chain_height"] = node.latest_height()
    except Exception as e:  # noqa: BLE001 - status works offline too
        out["node"] = f"unreachable: {e}"
    print(json.dumps(out, indent=2))
    return 0


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="vcoin-oracle",
        description=__doc__,
        epilog="settings (config.toml key, env variable, what it does):\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--home", help=f"oracle home (default ${HOME_ENV} or ~/.vcoin-oracle)")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def node_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rpc", help="node RPC URL (default from config: http://127.0.0.1:26657)")
        p.add_argument("--passphrase-file", help="file holding the keyring passphrase")

    p = sub.add_parser(
        "init",
        help="create the oracle home: config, account key, ed25519 attestation key",
        description="Write config.toml, a secp256k1 account key (chain keystore, encrypted) "
        "and an ed25519 attestation key (argon2id + secret box) under the home, 0600. An "
        "existing key is kept unless --force.",
    )
    p.add_argument("--key-name", default="oracle")
    p.add_argument(
        "--keyring-backend",
        choices=("file", "test"),
        default="file",
        help="test keeps keys UNENCRYPTED: devnets only",
    )
    p.add_argument("--import-secret-file", help="use this secp256k1 secret (hex) as the account")
    p.add_argument("--dev-key", help="devnet only: use genesis dev key NAME (e.g. oracle1)")
    p.add_argument("--artifacts", help="artifact store URL (the node's REST address)")
    p.add_argument("--sandbox", choices=("auto", "docker", "process"), help=SANDBOX_HELP)
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help=DEVICE_HELP)
    p.add_argument("--light-kdf", action="store_true", help="cheap key encryption (tests only)")
    p.add_argument("--force", action="store_true")
    node_flags(p)
    p.set_defaults(func=cmd_init)

    for name, text in (
        ("register", "bond as an oracle (the minimum by default) and register the ed25519 key"),
        ("stake", "add VCN to the oracle bond (the ed25519 key is sent again)"),
    ):
        p = sub.add_parser(name, help=text, description=text + ". Sends MsgBond(role=oracle).")
        p.add_argument("--amount", help="e.g. 10000VCN (register: up to the minimum)")
        node_flags(p)
        p.set_defaults(func=cmd_bond)

    p = sub.add_parser(
        "start",
        help="run the daemon until SIGTERM / Ctrl-C",
        description="Follow the chain from the last handled height, re-execute the jobs "
        "picked for checking, attest, and run canaries. The first SIGTERM/Ctrl-C lets a "
        "running check finish (or abandons it, unattested, after the grace period); a "
        "second one exits at once.",
    )
    node_flags(p)
    p.add_argument("--artifacts", help="artifact store URL (the node's REST address)")
    p.add_argument("--sandbox", choices=("auto", "docker", "process"), help=SANDBOX_HELP)
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help=DEVICE_HELP)
    p.add_argument("--metrics", help="host:port for Prometheus metrics ('' to turn off)")
    p.add_argument("--no-canaries", action="store_true", help="only check, post no canaries")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", choices=("json", "text"))
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("status", help="keys, bond on chain and the daemon's state")
    node_flags(p)
    p.set_defaults(func=cmd_status)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code (141, as SIGPIPE's, when stdout's reader left)."""
    return run_cli(_run, argv)


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, ConfigError, KeystoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - one clear line instead of a traceback
        from chain.client import NodeError

        if isinstance(e, NodeError):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
