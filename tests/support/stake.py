"""Helpers for the staking, reputation, slashing and mint tests.

* ``genesis(**params)``: the test genesis with params overridden per module,
  e.g. ``genesis(staking={"jail_blocks": 5}, mint={"epoch_blocks": 3})``.
* ``StakeChain``: ``tests.support.chain.Chain`` plus message builders for these
  modules, keeper reads over the last commit, and ``hook``.
* ``hook``: jobs and verification call the slashing, reputation and mint
  keepers from their own handlers. These tests stand in for those callers
  with a test-only message, ``/vcoin.testhook.v1.MsgKeeperCall``, routed
  into the same App (no store of its own, so app hashes are unaffected); it
  runs inside a real tx in a real block, so its writes are committed and its
  events reported like any module's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from app.app import App
from chain.coins import DENOM
from chain.context import BlockInfo, Ctx, Mode
from chain.crypto import PrivateKey, from_bech32, module_address
from chain.module import MsgSpec
from chain.proto import type_url
from chain.results import BlockResult, TxResult
from modules.auth.msgs import MsgUpdateParams
from modules.mint.keeper import MintKeeper
from modules.reputation.keeper import ReputationKeeper
from modules.reputation.msgs import MsgHeartbeat
from modules.slashing.keeper import SlashingKeeper
from modules.staking.keeper import StakingKeeper
from modules.staking.msgs import MsgBond, MsgUnbond, MsgUnjail
from tests.support.chain import PLATFORM, Chain, make_genesis

VCN = 10**18
EXTRA_ACCOUNTS = 12


def _test_hook_message() -> Any:
    """A message type that exists only in these tests (no .proto in proto/):
    it lets a test call a keeper through a signed transaction."""
    T = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="vcoin/testhook/v1/tx.proto", package="vcoin.testhook.v1", syntax="proto3"
    )
    m = fdp.message_type.add(name="MsgKeeperCall")
    fields = [("signer", T.TYPE_STRING), ("action", T.TYPE_STRING), ("target", T.TYPE_STRING)]
    fields += [("amount", T.TYPE_UINT64), ("others", T.TYPE_STRING)]
    for number, (name, kind) in enumerate(fields, start=1):
        label = T.LABEL_REPEATED if name == "others" else T.LABEL_OPTIONAL
        m.field.add(name=name, number=number, type=kind, label=label)
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(fdp.SerializeToString())
    desc = pool.FindMessageTypeByName("vcoin.testhook.v1.MsgKeeperCall")
    return message_factory.GetMessageClass(desc)


MsgKeeperCall = _test_hook_message()
HOOK_URL = type_url(MsgKeeperCall)


def genesis(**params: dict[str, Any]) -> dict[str, Any]:
    doc = make_genesis(EXTRA_ACCOUNTS)
    for module, p in params.items():
        doc["app_state"].setdefault(module, {})["params"] = p
    return doc


def coin(amount: int) -> Coin:
    return Coin(denom=DENOM, amount=str(amount))


def _keeper_call(app: App) -> Any:
    k = app.wiring.keepers
    staking: StakingKeeper = k["staking"]  # type: ignore[assignment]
    reputation: ReputationKeeper = k["reputation"]  # type: ignore[assignment]
    slashing: SlashingKeeper = k["slashing"]  # type: ignore[assignment]
    mint: MintKeeper = k["mint"]  # type: ignore[assignment]

    def handle(ctx: Ctx, msg: Any) -> None:
        target = from_bech32(msg.target)
        others = [from_bech32(o) for o in msg.others]
        a = msg.action
        if a == "record_compute":
            mint.record_compute(ctx, target, msg.amount)
        elif a == "success":
            reputation.record_result(ctx, target, True)
        elif a == "timeout":
            slashing.record_timeout(ctx, target)
        elif a == "cheat":
            slashing.punish_cheating(ctx, target, others)
        elif a == "penalise_oracle":
            slashing.penalise_oracle(ctx, target, msg.amount or None)
        elif a.startswith("slash:"):
            weights = [(o, 1 + i) for i, o in enumerate(others)]
            staking.slash(ctx, target, a[6:], msg.amount, weights)
        elif a.startswith("tombstone:"):
            staking.tombstone(ctx, target, a[10:])
        else:
            raise ValueError(f"unknown hook action {a}")

    return handle


def install_hook(app: App) -> None:
    app.routes[HOOK_URL] = MsgSpec(
        HOOK_URL,
        MsgKeeperCall,
        signer=lambda m: str(m.signer),
        validate=lambda m: m,  # nothing to parse: the handler takes the message
        handler=_keeper_call(app),
    )


class StakeChain(Chain):
    """A chain driver that checks every invariant after every block."""

    def __init__(self, app: App) -> None:
        super().__init__(app)
        install_hook(app)

    def block(self, txs: Sequence[bytes], time_ns: int | None = None) -> BlockResult:
        result = super().block(txs, time_ns)
        broken = self.app.check_invariants()
        assert broken == [], f"invariants broken at height {result.height}: {broken}"
        return result

    def blocks_until(self, height: int) -> list[BlockResult]:
        """Empty blocks until the last committed height is ``height``."""
        return [self.block([]) for _ in range(height - self.height)]

    # -- txs ------------------------------------------------------------------------
    def tx(self, key: PrivateKey, *msgs: Message) -> TxResult:
        return self.deliver_one(self.sign(key, list(msgs)))

    def bond(self, key: PrivateKey, role: str, amount: int, pubkey: bytes = b"") -> TxResult:
        return self.tx(key, bond_msg(key, role, amount, pubkey))

    def unbond(self, key: PrivateKey, role: str, amount: int) -> TxResult:
        return self.tx(key, MsgUnbond(address=key.bech32, role=role, amount=coin(amount)))

    def unjail(self, key: PrivateKey, role: str) -> TxResult:
        return self.tx(key, MsgUnjail(address=key.bech32, role=role))

    def heartbeat(self, key: PrivateKey) -> TxResult:
        return self.tx(key, MsgHeartbeat(address=key.bech32))

    def update_params(self, key: PrivateKey, module: str, changes: dict[str, Any]) -> TxResult:
        current = self.app.custom_query(module, "params", {})
        body = json.dumps({**current, **changes})
        return self.tx(key, MsgUpdateParams(authority=key.bech32, module=module, params_json=body))

    def hook(
        self, action: str, target: PrivateKey | bytes, amount: int = 0, others: Sequence[Any] = ()
    ) -> TxResult:
        """Run a keeper call (see the module docstring) in its own block, signed by PLATFORM."""
        return self.tx(PLATFORM, hook_msg(action, target, amount, others))

    # -- reads over the last commit -------------------------------------------------
    def ctx(self) -> Ctx:
        """A read-only context at the last commit, dated at the next height as a tx sees it."""
        q = self.app.query_ctx()
        block = BlockInfo(q.block.chain_id, self.height + 1, q.block.time_ns)
        return Ctx(q.store, block, Mode.QUERY)

    @property
    def staking(self) -> StakingKeeper:
        k: StakingKeeper = self.app.wiring.keepers["staking"]  # type: ignore[assignment]
        return k

    @property
    def reputation(self) -> ReputationKeeper:
        k: ReputationKeeper = self.app.wiring.keepers["reputation"]  # type: ignore[assignment]
        return k

    def bonded(self, who: PrivateKey, role: str = "worker") -> int:
        return self.staking.bonded(self.ctx(), who.address, role)

    def score(self, who: PrivateKey) -> int:
        return self.reputation.score(self.ctx(), who.address)

    def module_balance(self, name: str) -> int:
        return self.balance(module_address(name))

    def supply(self) -> int:
        return self.app.bank.supply(self.app.query_ctx(), DENOM)


def bond_msg(key: PrivateKey, role: str, amount: int, pubkey: bytes = b"") -> Message:
    return MsgBond(address=key.bech32, role=role, amount=coin(amount), ed25519_pubkey=pubkey)


def hook_msg(
    action: str, target: PrivateKey | bytes, amount: int = 0, others: Sequence[Any] = ()
) -> Message:
    from chain.crypto import to_bech32

    t = target if isinstance(target, bytes) else target.address
    return MsgKeeperCall(
        signer=PLATFORM.bech32,
        action=action,
        target=to_bech32(t),
        amount=amount,
        others=[o if isinstance(o, str) else o.bech32 for o in others],
    )
