"""``vcoind`` entry point: build the parser, run the command, map errors to exit codes.

Exit codes: 0 done; 1 refused or failed (the message on stderr says why);
2 bad usage (argparse); 130 interrupted; 141 stdout's reader went away (as SIGPIPE's
status: `vcoind keys list | head`), quietly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli import genesis_cmd, init_cmd, query_cmd, start_cmd, tx_cmd
from chain.cli import keys_cmd
from chain.cli.common import CliError, Env, add_globals
from chain.cli.pipes import run_cli
from chain.client import ChainRefused, NodeError
from chain.errors import ChainError
from chain.keystore import KeystoreError

DESCRIPTION = """\
VCoin node and wallet: a Cosmos-style chain for a GPU compute marketplace.

Start a local network:   vcoind init --dev-keys && vcoind start
Send VCN:                vcoind tx bank send alice bob 1.5VCN --yes
Read a balance:          vcoind query balance bob
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcoind",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_globals(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in (init_cmd, start_cmd, keys_cmd, tx_cmd, query_cmd, genesis_cmd):
        mod.register(sub)
    for p in leaf_parsers(parser):
        if "--home" not in p._option_string_actions:
            add_globals(p)
    return parser


def subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of ``p`` by name (aliases included)."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def leaf_parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser under ``p`` that runs a command (has no further sub-commands)."""
    subs = subcommands(p)
    if not subs:
        return [p]
    seen: dict[int, argparse.ArgumentParser] = {}
    for child in subs.values():
        for leaf in leaf_parsers(child):
            seen[id(leaf)] = leaf
    return list(seen.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (141, as SIGPIPE's, when stdout's reader left)."""
    return run_cli(_run, argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = Env.from_args(args)
    try:
        code = args.func(args, env)
        return 0 if code is None else int(code)
    except ChainRefused as e:
        print(f"error: the chain refused: {e}", file=sys.stderr)
    except (CliError, KeystoreError, NodeError) as e:
        print(f"error: {e}", file=sys.stderr)
    except ChainError as e:
        print(f"error: {e.message}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        env.close()
    return 1


if __name__ == "__main__":
    sys.exit(main())
