"""The only code that touches the auth store: accounts, numbers, params."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from chain.context import Ctx
from chain.crypto import key_address, module_address
from chain.params import ParamsStore
from modules.auth import keys
from modules.auth.keys import NAME
from modules.auth.params import Params

MINTER = "minter"
BURNER = "burner"


@dataclass(frozen=True)
class Account:
    address: bytes
    number: int
    sequence: int = 0
    # the typed key (chain/crypto.py): its length tells its type, so it is stored as
    # it is; a stored 33-byte key (all keys before eth_secp256k1) is secp256k1
    pubkey: bytes | None = None
    module: str | None = None  # module accounts carry their name
    permissions: tuple[str, ...] = ()

    def encode(self) -> bytes:
        pk = self.pubkey or b""
        head = self.number.to_bytes(8, "big") + self.sequence.to_bytes(8, "big")
        if self.module is None:
            return b"\x00" + head + bytes([len(pk)]) + pk
        body = json.dumps([self.module, list(self.permissions)]).encode()
        return b"\x01" + head + bytes([len(pk)]) + pk + body

    @classmethod
    def decode(cls, address: bytes, raw: bytes) -> Account:
        number = int.from_bytes(raw[1:9], "big")
        sequence = int.from_bytes(raw[9:17], "big")
        n = raw[17]
        pk = raw[18 : 18 + n] or None
        if raw[0] == 0:
            return cls(address, number, sequence, pk)
        name, perms = json.loads(raw[18 + n :])
        return cls(address, number, sequence, pk, name, tuple(perms))


PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def account_record(ctx: Ctx, addr: bytes) -> bytes | None:
    """The stored account, undecoded (None: no account)."""
    return ctx.kv(NAME).get(keys.account(addr))


def get_account(ctx: Ctx, addr: bytes) -> Account | None:
    raw = ctx.kv(NAME).get(keys.account(addr))
    return None if raw is None else Account.decode(addr, raw)


def sequence_of(ctx: Ctx, addr: bytes) -> int:
    """The account's sequence (0 for none), read without decoding the rest: the
    EVM asks for nonces many times a tx."""
    raw = ctx.kv(NAME).get(keys.account(addr))
    return 0 if raw is None else int.from_bytes(raw[9:17], "big")


def set_account(ctx: Ctx, acc: Account) -> None:
    ctx.kv(NAME).set(keys.account(acc.address), acc.encode())


def delete_account(ctx: Ctx, addr: bytes) -> None:
    ctx.kv(NAME).delete(keys.account(addr))


def _next_number(ctx: Ctx) -> int:
    kv = ctx.kv(NAME)
    raw = kv.get(keys.NEXT_ACCOUNT_NUMBER)
    n = 0 if raw is None else int.from_bytes(raw, "big")
    kv.set(keys.NEXT_ACCOUNT_NUMBER, (n + 1).to_bytes(8, "big"))
    return n


def ensure_account(ctx: Ctx, addr: bytes) -> Account:
    """The account at ``addr``, created with the next number if it is new."""
    acc = get_account(ctx, addr)
    if acc is None:
        acc = Account(addr, _next_number(ctx))
        set_account(ctx, acc)
    return acc


def new_account(ctx: Ctx, addr: bytes, sequence: int = 0, pubkey: bytes | None = None) -> Account:
    acc = Account(addr, _next_number(ctx), sequence, pubkey)
    set_account(ctx, acc)
    return acc


def set_pubkey(ctx: Ctx, acc: Account, pubkey: bytes) -> Account:
    """Record the account's typed key; it must control the account by its type's rule."""
    if key_address(pubkey) != acc.address:
        raise ValueError("public key does not match the account address")
    acc = replace(acc, pubkey=pubkey)
    set_account(ctx, acc)
    return acc


def increment_sequence(ctx: Ctx, acc: Account) -> Account:
    acc = Account(
        acc.address, acc.number, acc.sequence + 1, acc.pubkey, acc.module, acc.permissions
    )
    set_account(ctx, acc)
    return acc


def ensure_module_account(ctx: Ctx, name: str, permissions: tuple[str, ...] = ()) -> Account:
    addr = module_address(name)
    acc = get_account(ctx, addr)
    if acc is None or acc.module != name:
        number = _next_number(ctx) if acc is None else acc.number
        acc = Account(addr, number, 0, None, name, tuple(sorted(permissions)))
        set_account(ctx, acc)
    return acc


def get_module_account(ctx: Ctx, name: str) -> Account | None:
    acc = get_account(ctx, module_address(name))
    return acc if acc is not None and acc.module == name else None


def iterate_accounts(ctx: Ctx) -> list[Account]:
    from chain.kv import prefix_end

    p = keys.ACCOUNT_PREFIX
    return [Account.decode(k[len(p) :], v) for k, v in ctx.kv(NAME).iterate(p, prefix_end(p))]


def next_account_number(ctx: Ctx) -> int:
    raw = ctx.kv(NAME).get(keys.NEXT_ACCOUNT_NUMBER)
    return 0 if raw is None else int.from_bytes(raw, "big")


def set_next_account_number(ctx: Ctx, n: int) -> None:
    ctx.kv(NAME).set(keys.NEXT_ACCOUNT_NUMBER, n.to_bytes(8, "big"))
