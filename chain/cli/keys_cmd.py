"""``vcoind keys``: the encrypted keystore in $VCOIN_HOME/keys."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from chain.cli.common import CliError, Env, confirm
from chain.crypto import ETH_SECP256K1, KEY_ALGOS, SECP256K1, PrivateKey
from chain.keystore import (
    BACKEND_ENV,
    BACKENDS,
    ETH_HD_PATH,
    LIGHT_SCRYPT_N,
    PASSPHRASE_ENV,
    Backend,
    KeyInfo,
    Keystore,
    key_from_mnemonic,
    parse_secret_hex,
    read_passphrase,
)

_BACKEND_HELP = (
    "file: encrypted with a passphrase (default); test: stored UNENCRYPTED, for local "
    f"devnet keys only (env {BACKEND_ENV})"
)
_PASS_HELP = f"read the passphrase from this file (else env {PASSPHRASE_ENV}, else a prompt)"
_ALGO_HELP = (
    f"key type: {SECP256K1} (default; a Cosmos key, address ripemd160(sha256(key)), mnemonic "
    f"path m/44'/118'/0'/0/0) or {ETH_SECP256K1} (Ethermint's; the account is the key's "
    f"Ethereum address, the same in MetaMask; mnemonic path {ETH_HD_PATH})"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "keys",
        help="create, import, list, show, export and delete signing keys",
        description="Manage the keystore in $VCOIN_HOME/keys: one file per key, encrypted "
        "with a passphrase (Ethereum keystore v3: scrypt + AES), readable only by you.",
    )
    ks = p.add_subparsers(dest="keys_cmd", required=True, metavar="COMMAND")

    add = ks.add_parser(
        "add",
        help="create a new key from a fresh 24-word mnemonic",
        description="Create a key from a new BIP-39 mnemonic (Cosmos HD path "
        "m/44'/118'/0'/0/0; with --algo eth_secp256k1, Ethereum's m/44'/60'/0'/0/0). The "
        "mnemonic is printed once: write it down, it is the only way to restore the key.",
    )
    add.add_argument("name", help="name for the key (letters, digits, . _ -)")
    _store_flags(add)
    add.set_defaults(func=run_add)

    imp = ks.add_parser(
        "import",
        help="import a key from a hex secret or a BIP-39 mnemonic",
        description="Import a key. The secret (64 hex digits) or mnemonic (12-24 words) is "
        "read from --secret-file, or from standard input (a hidden prompt in a terminal), "
        "so it never appears in the process list or shell history.",
    )
    imp.add_argument("name", help="name for the key")
    imp.add_argument("--secret-file", help="file holding the hex secret or the mnemonic")
    _store_flags(imp)
    imp.set_defaults(func=run_import)

    ls = ks.add_parser("list", help="list keys with their addresses (no passphrase needed)")
    ls.set_defaults(func=run_list)

    show = ks.add_parser(
        "show",
        help="show a key's address (vcoin1… and 0x…), Ethereum address and public key",
        description="Show a key: its account's address in both forms (vcoin1… and the same "
        "20 bytes as EIP-55 0x…), its type, its public key, and its Ethereum address "
        "(keccak of the key: the account MetaMask controls with it). For a secp256k1 key the "
        "Ethereum address is a different account from its vcoin1… address.",
    )
    show.add_argument("name", help="key name")
    show.add_argument(
        "--address", "-a", action="store_true", help="print only the address (for scripts)"
    )
    show.set_defaults(func=run_show)

    exp = ks.add_parser(
        "export",
        help="print a key's secret as hex (asks for the passphrase)",
        description="Print the private key as hex on standard output. Anyone who sees it "
        "controls the account: do this only to move the key to another wallet.",
    )
    exp.add_argument("name", help="key name")
    exp.add_argument("--passphrase-file", help=_PASS_HELP)
    exp.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    exp.set_defaults(func=run_export)

    dele = ks.add_parser(
        "delete",
        help="delete a key file (its funds stay on chain, reachable only with a backup)",
    )
    dele.add_argument("name", help="key name")
    dele.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    dele.set_defaults(func=run_delete)


def _store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keyring-backend",
        choices=BACKENDS,
        default=os.environ.get(BACKEND_ENV, "file"),
        help=_BACKEND_HELP,
    )
    p.add_argument("--passphrase-file", help=_PASS_HELP)
    p.add_argument("--overwrite", action="store_true", help="replace a key of the same name")
    p.add_argument("--algo", choices=KEY_ALGOS, default=SECP256K1, help=_ALGO_HELP)
    p.add_argument(
        "--light-kdf",
        action="store_true",
        help="weaker, faster encryption (scrypt N=4096 instead of 262144), for CI keys",
    )


def _keystore(env: Env, args: argparse.Namespace) -> Keystore:
    ks = env.keystore()
    if getattr(args, "light_kdf", False):
        ks.scrypt_n = LIGHT_SCRYPT_N
    return ks


def _new_passphrase(args: argparse.Namespace, backend: Backend) -> str | None:
    if backend == "test":
        return None
    return read_passphrase(
        args.passphrase_file, prompt="Passphrase for the new key (8+ characters): ", confirm=True
    )


def _stored(info: KeyInfo) -> str:
    return "encrypted" if info.encrypted else "UNENCRYPTED test key"


def _info_text(info: KeyInfo) -> str:
    if info.algo == ETH_SECP256K1:
        eth_note = "(the same account: this key's Ethereum address)"
    else:
        eth_note = (
            f"(keccak of this key: a DIFFERENT account from {info.address}; "
            "MetaMask with this key controls that one)"
        )
    return (
        f"name:             {info.name}\n"
        f"type:             {info.algo}\n"
        f"address:          {info.address}\n"
        f"                  {info.hex_address} (the same account, 0x form)\n"
        f"Ethereum address: {info.eth_address} {eth_note}\n"
        f"pubkey:           {info.pubkey}\n"
        f"stored:           {_stored(info)}"
    )


def run_add(args: argparse.Namespace, env: Env) -> int:
    ks = _keystore(env, args)
    if ks.exists(args.name) and not args.overwrite:
        raise CliError(f"a key named {args.name!r} already exists; use another name or --overwrite")
    info, mnemonic = ks.add(
        args.name,
        _new_passphrase(args, args.keyring_backend),
        args.keyring_backend,
        overwrite=args.overwrite,
        algo=args.algo,
    )
    env.emit(
        {**info.to_json(), "mnemonic": mnemonic},
        lambda: (
            _info_text(info)
            + "\n\nWrite this mnemonic down and keep it safe; it is the only way to recover "
            "the key:\n\n" + mnemonic
        ),
    )
    return 0


def _read_secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        try:
            return Path(args.secret_file).read_text().strip()
        except OSError as e:
            raise CliError(f"cannot read {args.secret_file}: {e}") from e
    if sys.stdin.isatty():
        return getpass.getpass("Hex secret or mnemonic (hidden): ").strip()
    return sys.stdin.read().strip()


def run_import(args: argparse.Namespace, env: Env) -> int:
    ks = _keystore(env, args)
    if ks.exists(args.name) and not args.overwrite:
        raise CliError(f"a key named {args.name!r} already exists; use another name or --overwrite")
    secret = _read_secret(args)
    if not secret:
        raise CliError("no secret given: pass --secret-file or pipe the secret on stdin")
    # Decode the secret before asking for a passphrase, so a typo costs no prompt.
    if len(secret.split()) > 1:
        key = key_from_mnemonic(secret, algo=args.algo)
    else:
        key = PrivateKey(parse_secret_hex(secret), args.algo)
    phrase = _new_passphrase(args, args.keyring_backend)
    info = ks.save(args.name, key, phrase, args.keyring_backend, overwrite=args.overwrite)
    env.emit(info.to_json(), lambda: _info_text(info))
    return 0


def run_list(args: argparse.Namespace, env: Env) -> int:
    keys = env.keystore().list()

    def text() -> str:
        if not keys:
            return f"no keys in {env.home / 'keys'}; create one with `vcoind keys add NAME`"
        width = max(len(k.name) for k in keys)
        return "\n".join(
            f"{k.name:<{width}}  {k.address}  {k.hex_address}  {k.algo}  {_stored(k)}" for k in keys
        )

    env.emit([k.to_json() for k in keys], text)
    return 0


def run_show(args: argparse.Namespace, env: Env) -> int:
    info = env.keystore().show(args.name)
    if args.address:
        print(info.address)
        return 0
    env.emit(info.to_json(), lambda: _info_text(info))
    return 0


def run_export(args: argparse.Namespace, env: Env) -> int:
    ks = env.keystore()
    info = ks.show(args.name)
    confirm(f"print the private key of {info.name} ({info.address})?", args.yes)
    phrase = None
    if info.encrypted:
        phrase = read_passphrase(args.passphrase_file, prompt=f"Passphrase for key {info.name!r}: ")
    secret = ks.export(args.name, phrase)
    out: dict[str, Any] = {"name": info.name, "address": info.address, "secret": secret}
    env.emit(out, secret)
    return 0


def run_delete(args: argparse.Namespace, env: Env) -> int:
    ks = env.keystore()
    info = ks.show(args.name)
    confirm(f"delete key {info.name} ({info.address})? Without a backup it is gone", args.yes)
    ks.delete(args.name)
    env.emit({"deleted": info.name, "address": info.address}, f"deleted key {info.name}")
    return 0
