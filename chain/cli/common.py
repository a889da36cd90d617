"""What every ``vcoind`` command shares: global options, the Env, output and tx flags."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from chain.client import DEFAULT_RPC, NodeClient, TxResponse
from chain.coins import DECIMALS, DENOM, DISPLAY, parse_coin_str
from chain.crypto import AddressError, PrivateKey, parse_address, to_bech32
from chain.errors import ChainError
from chain.keystore import (
    DEFAULT_SCRYPT_N,
    Keystore,
    KeystoreError,
    default_home,
    read_passphrase,
)

NODE_ENV = "VCOIN_NODE"
HOME_ENV = "VCOIN_HOME"


class CliError(Exception):
    """A user mistake or refusal; main prints the message and exits 1."""


def add_globals(p: argparse.ArgumentParser) -> None:
    """--home/--node/--output; SUPPRESS lets them sit before or after the command words."""
    g = p.add_argument_group("global options")
    g.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help=f"node and keystore folder (env {HOME_ENV}; default ~/.vcoin)",
    )
    g.add_argument(
        "--node",
        default=argparse.SUPPRESS,
        help=f"node RPC address (env {NODE_ENV}; default {DEFAULT_RPC})",
    )
    g.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        default=argparse.SUPPRESS,
        help="print results as text (default) or JSON",
    )


@dataclass
class Env:
    """The resolved global options, and lazily made node client and keystore."""

    home: Path
    node: str
    output: str = "text"
    scrypt_n: int = DEFAULT_SCRYPT_N
    _client: NodeClient | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Env:
        home = getattr(args, "home", None) or default_home()
        node = getattr(args, "node", None) or os.environ.get(NODE_ENV) or DEFAULT_RPC
        if "://" not in node:
            node = "http://" + node
        return cls(Path(home).expanduser(), node, getattr(args, "output", None) or "text")

    def client(self) -> NodeClient:
        if self._client is None:
            self._client = NodeClient(self.node)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def keystore(self) -> Keystore:
        return Keystore(self.home, scrypt_n=self.scrypt_n)

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        """Print ``data`` as JSON with ``--output json``, else ``text`` (or data as JSON)."""
        if self.output == "json" or text is None:
            print(json.dumps(data, indent=2, sort_keys=True, default=str))
        else:
            print(text() if callable(text) else text)

    def resolve_address(self, text: str) -> str:
        """The bech32 address of ``text``: a ``vcoin1…`` address as given, a ``0x…``
        address (EIP-55; the same 20-byte account), or the name of a key."""
        is_hex = text[:2] in ("0x", "0X")
        try:
            addr = parse_address(text)
        except AddressError as e:
            try:
                if self.keystore().exists(text):
                    return self.keystore().show(text).address
            except KeystoreError:
                pass
            if is_hex:
                raise CliError(str(e)) from e
            raise CliError(
                f"{text!r} is neither a vcoin1… address nor a key name "
                f"(a 0x… address works too): {e}"
            ) from e
        return to_bech32(addr) if is_hex else text

    def signing_key(self, name: str, passphrase_file: str | None = None) -> PrivateKey:
        ks = self.keystore()
        if not ks.needs_passphrase(name):
            return ks.load(name)
        phrase = read_passphrase(passphrase_file, prompt=f"Passphrase for key {name!r}: ")
        return ks.load(name, phrase)


def fmt_vcn(amount: int) -> str:
    """1500000000000000000 -> '1.5' (VCN), exact."""
    whole, frac = divmod(amount, 10**DECIMALS)
    s = f"{frac:0{DECIMALS}d}".rstrip("0")
    return f"{whole}.{s}" if s else str(whole)


def parse_amount_avcn(text: str, what: str = "amount") -> int:
    """'1.5VCN' or '1000avcn' -> avcn; only the native coin is accepted."""
    denom = text.strip().lstrip("0123456789.")
    if denom and denom.upper() != DISPLAY and denom != DENOM:
        raise CliError(f"{what} {text!r}: write it in {DISPLAY} or {DENOM}, e.g. 1.5{DISPLAY}")
    try:
        coins = parse_coin_str(text)
    except ChainError as e:
        raise CliError(f"{what}: {e.message}") from e
    if len(coins) != 1 or coins[0][0] != DENOM:
        raise CliError(f"{what} must be in {DISPLAY} or {DENOM}, e.g. 1.5{DISPLAY} or 1000{DENOM}")
    return coins[0][1]


def parse_hex(text: str, what: str, size: int | None = None) -> bytes:
    """``text`` as bytes; ``what`` names it in the error (e.g. the flag)."""
    try:
        b = bytes.fromhex(text)
    except ValueError as e:
        raise CliError(f"{what} must be hex: {e}") from e
    if size is not None and len(b) != size:
        raise CliError(f"{what} must be {size} bytes ({2 * size} hex characters)")
    return b


def parse_gas(text: str) -> int | str:
    if text == "auto":
        return "auto"
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(
            f"--gas must be 'auto' or a positive integer, not {text!r}"
        )
    return int(text)


def add_tx_flags(p: argparse.ArgumentParser, from_flag: bool = True) -> None:
    """The flags every tx command takes; ``from_flag`` adds --from KEY."""
    g = p.add_argument_group("transaction options")
    if from_flag:
        g.add_argument(
            "--from", dest="from_key", required=True, metavar="KEY", help="key name that signs"
        )
    g.add_argument(
        "--fees",
        help="fee to pay, e.g. 0.0002VCN or 200000000000000avcn "
        "(default: gas limit × the chain's min gas price)",
    )
    g.add_argument(
        "--gas",
        type=parse_gas,
        default=200_000,
        help="gas limit, or 'auto' to simulate and add --gas-adjustment (default 200000)",
    )
    g.add_argument(
        "--gas-adjustment",
        type=float,
        default=1.3,
        help="multiplier on simulated gas with --gas auto (default 1.3)",
    )
    g.add_argument("--memo", default="", help="a note stored with the tx (at most 256 characters)")
    g.add_argument(
        "--broadcast-mode",
        choices=("commit", "sync"),
        default="commit",
        help="commit: wait until the tx is in a block (default); sync: return after CheckTx",
    )
    g.add_argument("--yes", "-y", action="store_true", help="sign and send without asking")
    g.add_argument(
        "--passphrase-file",
        help="read the key's passphrase from this file (else env VCOIN_KEYRING_PASSPHRASE, "
        "else a prompt)",
    )


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} needs confirmation; add --yes to go ahead without a prompt")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled; nothing was sent")


def broadcast(
    env: Env, args: argparse.Namespace, key: PrivateKey, msgs: Sequence[Message], show: str = ""
) -> int:
    """Sign ``msgs`` with ``key`` per the tx flags, send, print the result; 0 if accepted.
    ``show`` names an event attribute (``Event.attr``) whose values are printed after
    the tx lands in a block, e.g. the id of a posted job."""
    client = env.client()
    gas = args.gas
    if gas == "auto":
        gas = client.estimate_gas(key, msgs, memo=args.memo, adjustment=args.gas_adjustment)
    fee = None if not args.fees else parse_amount_avcn(args.fees, "--fees")
    shown_fee = fee if fee is not None else gas * client.min_gas_price()
    summary = (
        f"from {key.bech32}: {len(msgs)} message(s) "
        f"{', '.join(type(m).DESCRIPTOR.full_name for m in msgs)}; "
        f"gas {gas}, fee {fmt_vcn(shown_fee)} {DISPLAY}"
    )
    if not args.yes and sys.stdin.isatty():
        print(summary, file=sys.stderr)
    confirm("send this transaction?", args.yes)
    resp = client.send_tx(
        key, msgs, gas=int(gas), fee=fee, memo=args.memo, mode=args.broadcast_mode, check=False
    )
    print_tx(env, resp)
    if not resp.ok:
        where = "in its block (the fee was paid)" if resp.height else "before it entered a block"
        print(f"error: the chain refused the tx {where}: {resp.log}", file=sys.stderr)
        return 1
    if show and resp.height and env.output != "json":
        event, attr = show.split(".")
        for v in resp.attributes(event, attr):
            print(f"{attr}: {v}")
    return 0


def print_tx(env: Env, resp: TxResponse) -> None:
    def text() -> str:
        lines = [
            f"txhash:  {resp.hash}",
            f"height:  {resp.height or ('pending (sync broadcast)' if resp.ok else 'none')}",
            f"code:    {resp.code}" + (f" ({resp.codespace})" if resp.codespace else ""),
        ]
        if resp.log:
            lines.append(f"log:     {resp.log}")
        if resp.gas_wanted or resp.gas_used:
            lines.append(f"gas:     {resp.gas_used} used of {resp.gas_wanted}")
        return "\n".join(lines)

    env.emit(resp.to_json(), text)
