"""``vcoin-worker``: set up a GPU worker, register it, stake, and run the agent.

Exit codes: 0 done; 1 refused or failed (the message on stderr says why);
2 bad usage; 130 interrupted; 141 stdout's reader went away (as SIGPIPE's status:
`vcoin-worker capabilities | head`), quietly.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chain.cli.common import CliError, fmt_vcn, parse_amount_avcn
from chain.cli.pipes import run_cli
from chain.client import ChainRefused, NodeClient, NodeError, TxResponse
from chain.coins import DENOM
from chain.crypto import PrivateKey
from chain.errors import ChainError
from chain.keystore import (
    BACKENDS,
    PASSPHRASE_ENV,
    Keystore,
    KeystoreError,
    key_from_mnemonic,
    parse_secret_hex,
    read_passphrase,
)
from chain.logs import setup_logging
from worker.agent.config import HOME_ENV, WorkerConfig, load_config, write_config
from worker.agent.policy import advertised
from worker.nvml import Capabilities, probe

DESCRIPTION = f"""\
vcoin-worker: a GPU worker of the VCoin compute marketplace.

It follows the chain's job events, claims the jobs its policy accepts, runs
each in a locked-down sandbox (Docker by default; a LESS isolated process
sandbox where no engine exists), uploads the output to the artifact store and
submits the result hash with a signed execution receipt. Jobs that cannot run
(bad spec, missing or corrupt model weights, out of memory, too slow) are
reported on chain as failures, and the poster is refunded.

Set up once, then run:
  vcoin-worker init                  # a home ($VCOIN_WORKER_HOME, default
                                     # ~/.vcoin-worker) with config.toml and a key
  vcoin-worker register              # capabilities from NVML (CPU-only without a GPU)
  vcoin-worker stake 1000VCN         # the worker bond; the chain sets the minimum
  vcoin-worker start                 # the daemon; SIGTERM stops it cleanly

Settings: <home>/config.toml, overridden by env VCOIN_WORKER_<KEY> (e.g.
VCOIN_WORKER_NODE), overridden by flags. The key's passphrase comes from
--passphrase-file or ${PASSPHRASE_ENV}.
"""


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("global options")
    g.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help=f"worker folder: config, keys, state (env {HOME_ENV}; default ~/.vcoin-worker)",
    )
    g.add_argument(
        "--node", default=argparse.SUPPRESS, help="node RPC URL (default http://127.0.0.1:26657)"
    )
    g.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        default=argparse.SUPPRESS,
        help="print results as text (default) or JSON",
    )
    g.add_argument(
        "--passphrase-file",
        default=argparse.SUPPRESS,
        help=f"file with the key's passphrase (else env {PASSPHRASE_ENV}, else a prompt)",
    )


def _policy_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("claim policy")
    g.add_argument("--models", help="chain model ids to serve, comma-separated")
    g.add_argument("--task-types", help="task types to run, comma-separated")
    g.add_argument("--price-floor", help="lowest max_price worth claiming, e.g. 0.5VCN or 10avcn")
    g.add_argument("--max-concurrent", type=int, help="jobs run at once")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcoin-worker",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "init",
        help="create the worker home: config.toml and a signing key",
        description="Create <home>/config.toml and a key in <home>/keys (encrypted with a "
        "passphrase). A new key's 24-word mnemonic is printed once: write it down.",
    )
    p.add_argument("--key", default="worker", help="key name (default worker)")
    p.add_argument("--artifacts", help="artifact store URL (default http://127.0.0.1:1317)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--secret-file", help="import the key from a file with a hex secret")
    src.add_argument("--mnemonic-file", help="import the key from a file with a BIP-39 mnemonic")
    src.add_argument(
        "--dev-key",
        metavar="NAME",
        help="import a devnet dev key (worker1, …): public seeds, local networks only",
    )
    p.add_argument(
        "--keyring-backend",
        choices=BACKENDS,
        default="file",
        help="file: encrypted (default); test: UNENCRYPTED, for devnets only",
    )
    p.add_argument("--sandbox", choices=("auto", "docker", "process"))
    p.add_argument("--overwrite", action="store_true", help="replace config.toml and the key")
    _policy_flags(p)
    p.set_defaults(func=run_init)

    p = sub.add_parser(
        "register",
        help="register (or update) this worker on chain with its capabilities",
        description="Read the GPUs through NVML (a machine without one registers as CPU-only) "
        "and send MsgRegisterWorker with the served models, task types, price floor and "
        "concurrency. Models default to every registered model that fits this machine.",
    )
    _policy_flags(p)
    p.set_defaults(func=run_register)

    p = sub.add_parser(
        "stake",
        help="bond VCN as a worker (MsgBond role worker)",
        description="Add AMOUNT to this worker's bond, e.g. 1000VCN. Jobs need an active bond "
        "of at least the chain's minimum (`vcoin-worker status` shows it).",
    )
    p.add_argument("amount", help="e.g. 1000VCN or 1000000000000000000000avcn")
    p.set_defaults(func=run_stake)

    p = sub.add_parser(
        "start",
        help="run the agent until SIGTERM / Ctrl-C",
        description="Follow the chain, claim, run and submit jobs. On SIGTERM no new jobs "
        "are claimed, running ones get shutdown_grace_s to finish and the rest are given "
        "back to the queue. Logs are structured (JSON lines by default); metrics are served "
        "for Prometheus at metrics_laddr.",
    )
    p.add_argument("--artifacts", help="artifact store URL")
    p.add_argument("--sandbox", choices=("auto", "docker", "process"))
    p.add_argument("--image", help="docker image for jobs")
    p.add_argument(
        "--warm-pool",
        action=argparse.BooleanOptionalAction,
        help="docker: keep a job container warm (libraries loaded) for the next job",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--shutdown-grace", type=int, dest="shutdown_grace_s", help="seconds")
    p.add_argument("--metrics-laddr", help="host:port for /metrics; '' disables")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", choices=("json", "text"))
    _policy_flags(p)
    p.set_defaults(func=run_start)

    p = sub.add_parser("status", help="this worker on chain: registration, bond, jobs held")
    p.set_defaults(func=run_status)

    p = sub.add_parser("capabilities", help="what NVML sees on this machine (no chain needed)")
    p.set_defaults(func=run_capabilities)

    for leaf in (sub.choices[n] for n in sub.choices):
        _common(leaf)
    return parser


# -- helpers -------------------------------------------------------------------------------
def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (
        "node",
        "artifacts",
        "sandbox",
        "image",
        "warm_pool",
        "device",
        "shutdown_grace_s",
        "metrics_laddr",
        "log_level",
        "log_format",
        "models",
        "task_types",
        "max_concurrent",
    ):
        v = getattr(args, name, None)
        if v is not None:
            out[name] = v
    if getattr(args, "price_floor", None) is not None:
        out["price_floor"] = parse_amount_avcn(args.price_floor, "--price-floor")
    return out


def _config(args: argparse.Namespace) -> WorkerConfig:
    try:
        return load_config(getattr(args, "home", None), _overrides(args))
    except (ValueError, OSError) as e:
        raise CliError(str(e)) from e


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "output", "text") == "json":
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print(text)


def _key(cfg: WorkerConfig, args: argparse.Namespace) -> PrivateKey:
    ks = Keystore(cfg.home_path)
    if not ks.exists(cfg.key):
        raise CliError(f"no key {cfg.key!r} in {ks.dir}: run `vcoin-worker init` first")
    if not ks.needs_passphrase(cfg.key):
        return ks.load(cfg.key)
    phrase = read_passphrase(
        getattr(args, "passphrase_file", None), prompt=f"Passphrase for worker key {cfg.key!r}: "
    )
    return ks.load(cfg.key, phrase)


def _send(client: NodeClient, key: PrivateKey, msg: Any) -> TxResponse:
    return client.send_tx(key, [msg], gas="auto", mode="commit")


# -- commands ------------------------------------------------------------------------------
def run_init(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if cfg.config_file.exists() and not args.overwrite:
        raise CliError(f"{cfg.config_file} exists; keep it or pass --overwrite")
    cfg.home_path.mkdir(parents=True, exist_ok=True)
    ks = Keystore(cfg.home_path)
    backend = args.keyring_backend
    mnemonic = ""
    if args.dev_key:
        from genesis.devnet import dev_key

        key, backend = dev_key(args.dev_key), "test"
    elif args.secret_file:
        key = PrivateKey(parse_secret_hex(Path(args.secret_file).read_text()))
    elif args.mnemonic_file:
        key = key_from_mnemonic(Path(args.mnemonic_file).read_text())
    else:
        from cosmpy.mnemonic import generate_mnemonic

        mnemonic = generate_mnemonic(256)
        key = key_from_mnemonic(mnemonic)
    phrase = None
    if backend == "file":
        phrase = read_passphrase(
            getattr(args, "passphrase_file", None),
            prompt="New passphrase for the worker key: ",
            confirm=True,
        )
    from dataclasses import replace

    cfg = replace(cfg, key=args.key)
    info = ks.save(args.key, key, phrase, backend, overwrite=args.overwrite)
    path = write_config(cfg)
    data = {"home": str(cfg.home_path), "config": str(path), "key": info.to_json()}
    lines = [
        f"worker home {cfg.home_path}",
        f"config      {path}",
        f"key         {info.name}: {info.address}"
        + ("" if info.encrypted else "  (UNENCRYPTED test key)"),
    ]
    if mnemonic:
        data["mnemonic"] = mnemonic
        lines += ["", "Mnemonic (the only backup of this key; write it down now):", mnemonic]
    lines += ["", "Next: fund the address, then `vcoin-worker register` and `stake`."]
    _emit(args, data, "\n".join(lines))
    return 0


def _pick_models(
    client: NodeClient, cfg: WorkerConfig, caps: Capabilities
) -> tuple[list[str], list[str]]:
    chain_models = {m["id"]: m for m in client.query("jobs", "models")["models"]}
    if cfg.models:
        unknown = sorted(set(cfg.models) - set(chain_models))
        if unknown:
            raise CliError(f"models {unknown} are not registered; known: {sorted(chain_models)}")
        models = sorted(cfg.models)
    else:
        models = sorted(
            m
            for m, rec in chain_models.items()
            if int(rec["min_gpu_memory_mib"]) <= caps.memory_mib
        )
    if not models:
        raise CliError(
            f"no registered model fits this machine ({caps.summary()}); list models with --models"
        )
    served_types = {t for m in models for t in chain_models[m]["task_types"]}
    types = advertised(set(cfg.task_types) if cfg.task_types else served_types)
    return models, types


def run_register(args: argparse.Namespace) -> int:
    from modules.jobs.msgs import MsgRegisterWorker

    cfg = _config(args)
    key = _key(cfg, args)
    caps = probe()
    with NodeClient(cfg.node) as client:
        models, types = _pick_models(client, cfg, caps)
        msg = MsgRegisterWorker(
            worker=key.bech32,
            gpu_model=caps.gpu_model,
            memory_mib=caps.memory_mib,
            gpu_count=caps.gpu_count,
            task_types=types,
            models=models,
            price_floor=str(cfg.price_floor),
            max_concurrent=cfg.max_concurrent,
        )
        resp = _send(client, key, msg)
        min_price = int(client.query("jobs", "params")["min_price"])
    note = ""
    if cfg.price_floor < min_price:
        note = (
            f"\nnote: a price floor under the chain's min_price asks {min_price}{DENOM} per job; "
            "set --price-floor to what a job is worth to you"
        )
    data = {
        "worker": key.bech32,
        "capabilities": caps.to_json(),
        "models": models,
        "task_types": types,
        "price_floor": str(cfg.price_floor),
        "max_concurrent": cfg.max_concurrent,
        "tx": resp.hash,
        "height": resp.height,
    }
    _emit(
        args,
        data,
        f"registered {key.bech32} at height {resp.height}\n"
        f"  hardware   {caps.summary()}\n"
        f"  models     {', '.join(models)}\n"
        f"  task types {', '.join(types)}\n"
        f"  floor      {cfg.price_floor}{DENOM}, {cfg.max_concurrent} job(s) at a time" + note,
    )
    return 0


def run_stake(args: argparse.Namespace) -> int:
    from modules.staking.msgs import Coin, MsgBond

    cfg = _config(args)
    amount = parse_amount_avcn(args.amount)
    key = _key(cfg, args)
    with NodeClient(cfg.node) as client:
        msg = MsgBond(
            address=key.bech32, role="worker", amount=Coin(denom=DENOM, amount=str(amount))
        )
        resp = _send(client, key, msg)
        bond = client.query("staking", "bond", {"address": key.bech32, "role": "worker"})
    _emit(
        args,
        {"tx": resp.hash, "height": resp.height, "bond": bond},
        f"bonded {fmt_vcn(amount)} VCN at height {resp.height}; worker bond now "
        f"{fmt_vcn(int(bond['bonded']))} VCN (minimum {fmt_vcn(int(bond['min_bond']))}), "
        f"{'active' if bond['active'] else 'NOT active'}",
    )
    return 0


def run_start(args: argparse.Namespace) -> int:
    from worker.agent.daemon import Agent, NotReady
    from worker.agent.state import HomeLocked

    cfg = _config(args)
    setup_logging(cfg.log_level, cfg.log_format)
    for noisy in ("docker", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.INFO)
    key = _key(cfg, args)
    caps = probe()
    log = logging.getLogger("vcoin.worker")
    log.info("worker %s on %s; hardware: %s", key.bech32, cfg.node, caps.summary())
    agent = Agent(cfg, key, caps)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s", signal.Signals(signum).name)
        agent.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        agent.run()
    except (NotReady, HomeLocked) as e:
        raise CliError(str(e)) from e
    return 0


def run_status(args: argparse.Namespace) -> int:
    from worker.agent.state import AgentState

    cfg = _config(args)
    info = Keystore(cfg.home_path).show(cfg.key)
    st = AgentState(cfg.data_dir).snapshot()
    with NodeClient(cfg.node) as client:
        try:
            worker: Any = client.query("jobs", "worker", {"address": info.address})
        except ChainRefused:
            worker = None
        bond = client.query("staking", "bond", {"address": info.address, "role": "worker"})
        score = client.query("reputation", "score", {"address": info.address})
        balance = client.balance(info.address)
    data = {
        "address": info.address,
        "balance": str(balance),
        "registered": worker,
        "bond": bond,
        "reputation": score,
        "local": st,
    }
    reg = "not registered (run `vcoin-worker register`)"
    if worker is not None:
        reg = f"models {', '.join(worker['models'])}; {worker['active']} job(s) held on chain"
    _emit(
        args,
        data,
        f"worker     {info.address}\n"
        f"balance    {fmt_vcn(balance)} VCN\n"
        f"registered {reg}\n"
        f"bond       {fmt_vcn(int(bond['bonded']))} VCN "
        f"({'active' if bond['active'] else 'not active'}; min {fmt_vcn(int(bond['min_bond']))})\n"
        f"reputation {score.get('score')}\n"
        f"handled to height {st['last_height']}; local jobs {sorted(st['jobs']) or 'none'}",
    )
    return 0


def run_capabilities(args: argparse.Namespace) -> int:
    caps = probe()
    _emit(args, caps.to_json(), caps.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (141, as SIGPIPE's, when stdout's reader left)."""
    return run_cli(_run, argv)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # an OSError, but no failure to report: main ends quietly
        raise
    except ChainRefused as e:
        print(f"error: the chain refused: {e}", file=sys.stderr)
    except (CliError, KeystoreError, NodeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
    except ChainError as e:
        print(f"error: {e.message}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
