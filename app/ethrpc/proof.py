"""``eth_getProof`` (EIP-1186) over this chain's store proofs.

The EIP-1186 shape, with this chain's Merkle proofs in place of Ethereum's
Patricia-trie nodes. The state is one sparse Merkle tree per module store
(``chain/smt.py``), and the app hash (= the block's ``stateRoot``) commits to
every module's root (``chain/store.py``); an EVM account is three records in
three stores:

    nonce     auth store, the account record (``modules/auth/keys.py``)
    balance   bank store, the ``avcn`` balance (``modules/bank/keys.py``)
    code      evm store, keccak(code) ‖ code (``modules/evm/keys.py``)
    storage   evm store, address ‖ slot (32 bytes) → the value, big-endian

``accountProof`` is those three proofs, in that order; ``storageProof[i].proof``
is the one proof of that slot. Each proof is ``0x`` + the hex of the UTF-8 JSON
object that ``abci_query`` with ``prove=true`` answers (``StoreProof.to_json``:
``module``, ``inner`` {``key``, ``siblings``, ``leaf``}, ``roots``), plus
``value``: the record's stored bytes in hex, or null when it is absent. A
client checks one with the chain's own verifier::

    p = StoreProof.from_json(obj)            # chain.store
    verify_proof(stateRoot, p, p.inner.key, bytes.fromhex(obj["value"]) or None)

and then reads the claimed number out of ``value`` (``verify_account`` and
``verify_storage`` below do both). ``storageHash`` is the evm store's root:
contract storage has no per-account root here, every contract's slots sit in
that one tree. ``codeHash`` is keccak of the code (of b"" for an account
without code; zero for an account that has nothing at all).

Only the last commit's state is kept: ``latest``, ``safe``, ``finalized`` and
that block's number or hash are answered; any other block gets the error
``eth_getBalance`` gives, and ``pending`` (not committed, so not provable) an
error saying so.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from eth_hash.auto import keccak

from app.ethrpc import hexio
from app.ethrpc.hexio import RpcError, hexdata, invalid, q
from chain.coins import DENOM
from chain.store import StoreProof, verify_proof

if TYPE_CHECKING:
    from app.ethrpc.methods import EthApi, Method

MAX_STORAGE_KEYS = 1_000
EMPTY_CODE_HASH = keccak(b"")
ZERO_HASH = bytes(32)


def _keys(addr: bytes) -> list[tuple[str, bytes]]:
    """(module, store key) of an account's nonce, balance and code records."""
    from modules.auth import keys as auth_keys
    from modules.bank import keys as bank_keys
    from modules.evm import keys as evm_keys

    return [
        (auth_keys.NAME, auth_keys.account(addr)),
        (bank_keys.NAME, bank_keys.balance(addr, DENOM)),
        (evm_keys.NAME, evm_keys.code(addr)),
    ]


def _storage_key(addr: bytes, slot: int) -> bytes:
    from modules.evm import keys as evm_keys

    return evm_keys.storage(addr, slot)


def encode(proof: StoreProof, value: bytes | None) -> str:
    d = proof.to_json()
    d["value"] = None if value is None else value.hex()
    return hexdata(json.dumps(d, sort_keys=True, separators=(",", ":")).encode())


def decode(item: Any) -> tuple[StoreProof, bytes | None]:
    """A proof of this module's encoding; ValueError when it is not one."""
    if not isinstance(item, str) or not item.startswith("0x"):
        raise ValueError("a proof is a 0x hex string")
    d = json.loads(bytes.fromhex(item[2:]))
    value = d.get("value") if isinstance(d, dict) else None
    if value is not None and not isinstance(value, str):
        raise ValueError("a proof's value is hex or null")
    return StoreProof.from_json(d), None if value is None else bytes.fromhex(value)


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def verify_account(state_root: bytes, result: dict[str, Any]) -> bool:
    """True when ``result`` (an eth_getProof answer, as JSON) is proven under
    ``state_root``: its three proofs verify, are of the address's records, and
    say its nonce, balance and codeHash."""
    from modules.auth.state import Account

    try:
        addr = hexio.address(result["address"])
        items = result["accountProof"]
        if not isinstance(items, list) or len(items) != 3:
            return False
        proven: list[bytes | None] = []
        for (module, key), item in zip(_keys(addr), items, strict=True):
            p, value = decode(item)
            if p.module != module or not verify_proof(state_root, p, key, value):
                return False
            proven.append(value)
        acc, bal, code = proven
        nonce = 0 if acc is None else Account.decode(addr, acc).sequence
        if code is not None:
            code_hash = code[:32]
        else:
            code_hash = EMPTY_CODE_HASH if acc is not None or bal is not None else ZERO_HASH
        return (
            hexio.quantity(result["nonce"], "nonce") == nonce
            and hexio.quantity(result["balance"], "balance") == _int(bal)
            and hexio.hash32(result["codeHash"], "codeHash") == code_hash
        )
    except (ValueError, KeyError, TypeError, IndexError, RpcError):
        return False


def verify_storage(state_root: bytes, address: str, entry: dict[str, Any]) -> bool:
    """True when a ``storageProof`` entry's value is proven under ``state_root``."""
    try:
        addr = hexio.address(address)
        slot = hexio.quantity(entry["key"], "key", 256)
        items = entry["proof"]
        if not isinstance(items, list) or len(items) != 1:
            return False
        p, value = decode(items[0])
        if p.module != "evm" or not verify_proof(state_root, p, _storage_key(addr, slot), value):
            return False
        return hexio.quantity(entry["value"], "value") == _int(value)
    except (ValueError, KeyError, TypeError, IndexError, RpcError):
        return False


class Prover:
    def __init__(self, api: EthApi) -> None:
        self.api = api

    def _slots(self, v: Any) -> list[tuple[str, int]]:
        if not isinstance(v, list):
            raise invalid("storageKeys: expected an array of slots (32-byte hex keys)")
        if len(v) > MAX_STORAGE_KEYS:
            raise invalid(f"storageKeys: at most {MAX_STORAGE_KEYS} keys")
        out = []
        for i, k in enumerate(v):
            slot = hexio.quantity(k, f"storageKeys[{i}]", 256)
            out.append((hexdata(slot.to_bytes(32, "big")), slot))
        return out

    def get_proof(self, p: list[Any]) -> dict[str, Any]:
        addr = hexio.address(p[0])
        slots = self._slots(p[1])
        tag = hexio.block_tag(p[2] if len(p) > 2 else None)
        want: int | None = None
        if tag == "pending":
            raise RpcError(
                hexio.SERVER_ERROR,
                "pending state is not committed, so it has no proof: ask for latest",
            )
        chain = self.api.chain
        if tag not in ("latest", "safe", "finalized"):
            want = chain.resolve(tag)
            if want is None:
                shown = q(tag) if isinstance(tag, int) else tag
                raise RpcError(hexio.SERVER_ERROR, f"block {shown} not found")
        node = self.api.node
        with node.lock:  # one commit's records, proofs and roots
            app = node.app
            store = app.store
            height = store.height()
            if want is not None and want != height:
                raise RpcError(
                    hexio.SERVER_ERROR,
                    f"state at block {want} is not kept: this node answers state queries "
                    f"at the latest block ({height}) and pending only",
                )
            modules = app.module_names()
            account = []
            for module, key in _keys(addr):
                value = store.module_kv(module).get(key)
                account.append((store.prove(module, key, modules), value))
            storage = []
            for shown, slot in slots:
                key = _storage_key(addr, slot)
                value = store.module_kv("evm").get(key)
                storage.append((shown, value, store.prove("evm", key, modules)))
            storage_root = store.root("evm")
        from modules.auth.state import Account

        (acc_p, acc), (bal_p, bal), (code_p, code) = account
        if code is not None:
            code_hash = code[:32]
        else:
            code_hash = EMPTY_CODE_HASH if acc is not None or bal is not None else ZERO_HASH
        return {
            "address": hexio.checksum(addr),
            "accountProof": [encode(acc_p, acc), encode(bal_p, bal), encode(code_p, code)],
            "balance": q(_int(bal)),
            "codeHash": hexdata(code_hash),
            "nonce": q(0 if acc is None else Account.decode(addr, acc).sequence),
            "storageHash": hexdata(storage_root),
            "storageProof": [
                {"key": shown, "value": q(_int(v)), "proof": [encode(pr, v)]}
                for shown, v, pr in storage
            ],
        }


def methods(api: EthApi) -> dict[str, Method]:
    """``eth_getProof``."""
    from app.ethrpc.methods import Method

    return {"eth_getProof": Method(Prover(api).get_proof, 2, 3)}
