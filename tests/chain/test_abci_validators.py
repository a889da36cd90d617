"""The validator set over ABCI (issue 15): real protobuf requests into
``chain.abci.server.AbciApp``, as CometBFT v0.38 sends them.

InitChain answers with staking's genesis validators; FinalizeBlock reads the
last commit's votes and the misbehavior list and answers validator_updates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cosmpy.protos.tendermint.abci import types_pb2 as abci
from cosmpy.protos.tendermint.crypto.keys_pb2 import PublicKey
from cosmpy.protos.tendermint.types.validator_pb2 import (
    BLOCK_ID_FLAG_ABSENT,
    BLOCK_ID_FLAG_COMMIT,
    BLOCK_ID_FLAG_NIL,
)
from google.protobuf.timestamp_pb2 import Timestamp

from app.app import App
from chain.abci.server import AbciApp
from chain.valset import consensus_address
from modules.staking.keeper import StakingKeeper
from modules.staking.msgs import MsgBond
from modules.staking.validators import genesis_validators
from tests.modules.test_validator_set import (
    DOUBLE_SIGN_BPS,
    DOWNTIME_BPS,
    DOWNTIME_JAIL,
    K1,
    K2,
    K3,
    V1,
    V2,
    V3,
    WINDOW,
    make_doc,
    unbond_msg,
)
from tests.support.chain import GENESIS_TIME_NS, Chain
from tests.support.stake import VCN, coin


class Node:
    """An App behind AbciApp, fed requests the way CometBFT sends them."""

    def __init__(self, path: Path) -> None:
        self.app = App(path)
        self.abci = AbciApp(self.app)
        self.height = 0
        self.chain = Chain(self.app)  # only to sign txs

    @property
    def staking(self) -> StakingKeeper:
        k: StakingKeeper = self.app.wiring.keepers["staking"]  # type: ignore[assignment]
        return k

    def call(self, **req: Any) -> Any:
        resp = self.abci.handle(abci.Request(**req))
        kind = resp.WhichOneof("value")
        assert kind != "exception", resp.exception.error
        return getattr(resp, kind)

    def init_chain(self, doc: dict[str, Any]) -> abci.ResponseInitChain:
        r: abci.ResponseInitChain = self.call(
            init_chain=abci.RequestInitChain(
                time=Timestamp(seconds=GENESIS_TIME_NS // 10**9),
                chain_id=doc["chain_id"],
                app_state_bytes=json.dumps(doc["app_state"]).encode(),
                initial_height=1,
            )
        )
        return r

    def finalize(
        self,
        txs: Sequence[bytes] = (),
        votes: Sequence[tuple[bytes, int]] = (),
        misbehavior: Sequence[abci.Misbehavior] = (),
    ) -> abci.ResponseFinalizeBlock:
        self.height += 1
        commit = abci.CommitInfo(
            round=0,
            votes=[
                abci.VoteInfo(
                    validator=abci.Validator(address=consensus_address(k), power=1),
                    block_id_flag=flag,
                )
                for k, flag in votes
            ],
        )
        r: abci.ResponseFinalizeBlock = self.call(
            finalize_block=abci.RequestFinalizeBlock(
                txs=list(txs),
                decided_last_commit=commit,
                misbehavior=list(misbehavior),
                hash=self.height.to_bytes(32, "big"),
                height=self.height,
                time=Timestamp(seconds=GENESIS_TIME_NS // 10**9 + self.height),
                proposer_address=consensus_address(K1),
            )
        )
        self.call(commit=abci.RequestCommit())
        return r


def vals(updates_: Any) -> list[tuple[bytes, int]]:
    return [(bytes(v.pub_key.ed25519), int(v.power)) for v in updates_]


def evidence(key: bytes, kind: int = abci.MisbehaviorType.DUPLICATE_VOTE) -> abci.Misbehavior:
    return abci.Misbehavior(
        type=kind,
        validator=abci.Validator(address=consensus_address(key), power=50),
        height=1,
        time=Timestamp(seconds=GENESIS_TIME_NS // 10**9),
        total_voting_power=150,
    )


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    made: list[Node] = []
    yield made
    for n in made:
        n.app.close()


def new_node(nodes: list[Node], tmp_path: Path, doc: dict[str, Any] | None = None) -> Node:
    n = Node(tmp_path / f"node{len(nodes)}")
    nodes.append(n)
    if doc is not None:
        n.init_chain(doc)
    return n


GENESIS_VALS = [(V1, K1, 100 * VCN), (V2, K2, 50 * VCN)]


def test_init_chain_answers_the_genesis_validators(nodes: list[Node], tmp_path: Path) -> None:
    doc = make_doc(GENESIS_VALS)
    node = new_node(nodes, tmp_path)
    r = node.init_chain(doc)
    assert (
        vals(r.validators) == genesis_validators(doc["app_state"]) == sorted([(K1, 100), (K2, 50)])
    )
    assert all(v.pub_key.WhichOneof("sum") == "ed25519" for v in r.validators)
    assert r.app_hash == node.app.info().last_block_app_hash
    # InitChain again after a crash before the first block: the same answer
    again = node.init_chain(doc)
    assert again == r


def test_init_chain_without_validators_leaves_cometbft_genesis(
    nodes: list[Node], tmp_path: Path
) -> None:
    r = new_node(nodes, tmp_path).init_chain(make_doc())
    assert list(r.validators) == []  # CometBFT keeps the validators of its genesis file


def test_bond_and_unbond_show_in_finalize_block(nodes: list[Node], tmp_path: Path) -> None:
    node = new_node(nodes, tmp_path, make_doc(GENESIS_VALS))
    bond = MsgBond(address=V3.bech32, role="validator", amount=coin(20 * VCN), consensus_pubkey=K3)
    r = node.finalize([node.chain.sign(V3, [bond], count=False)])
    assert r.tx_results[0].code == 0, r.tx_results[0].log
    assert vals(r.validator_updates) == [(K3, 20)]
    assert r.validator_updates[0].pub_key == PublicKey(ed25519=K3)
    r = node.finalize([node.chain.sign(V3, [unbond_msg(V3, 20 * VCN)], count=False)])
    assert vals(r.validator_updates) == [(K3, 0)]
    assert node.finalize().validator_updates == []


def test_duplicate_vote_removes_the_validator_in_the_same_block(
    nodes: list[Node], tmp_path: Path
) -> None:
    node = new_node(nodes, tmp_path, make_doc(GENESIS_VALS))
    r = node.finalize(misbehavior=[evidence(K2)])
    assert vals(r.validator_updates) == [(K2, 0)]
    left = node.staking.bonded(node.app.query_ctx(), V2.address, "validator")
    assert left == 50 * VCN * (10_000 - DOUBLE_SIGN_BPS) // 10_000
    assert any(e.type == "DoubleSignPunished" for e in r.events)
    # the same evidence again, and evidence of an address nobody has: ignored, no exception
    r = node.finalize(
        misbehavior=[evidence(K2), evidence(K3, abci.MisbehaviorType.LIGHT_CLIENT_ATTACK)]
    )
    assert vals(r.validator_updates) == []
    assert sum(e.type == "EvidenceIgnored" for e in r.events) == 2
    # a misbehavior of unknown type is left out
    r = node.finalize(misbehavior=[evidence(K1, abci.MisbehaviorType.UNKNOWN)])
    assert vals(r.validator_updates) == [] and not any(
        e.type in ("DoubleSignPunished", "EvidenceIgnored") for e in r.events
    )


@pytest.mark.parametrize(("absent", "jailed"), [(5, False), (6, True)])
def test_last_commit_votes_jail_past_the_threshold(
    nodes: list[Node], tmp_path: Path, absent: int, jailed: bool
) -> None:
    node = new_node(nodes, tmp_path, make_doc(GENESIS_VALS))
    seen: list[tuple[bytes, int]] = []
    for i in range(WINDOW):
        # a nil vote is no signature of the block either
        flag = (
            (BLOCK_ID_FLAG_ABSENT if i % 2 else BLOCK_ID_FLAG_NIL)
            if i < absent
            else BLOCK_ID_FLAG_COMMIT
        )
        r = node.finalize(votes=[(K1, BLOCK_ID_FLAG_COMMIT), (K2, flag)])
        seen += vals(r.validator_updates)
        if jailed and i == absent - 1:
            jailed_at = node.height
    if not jailed:
        assert seen == []
        return
    assert seen == [(K2, 0)]
    ctx = node.app.query_ctx()
    assert node.staking.jailed_until(ctx, V2.address, "validator") == jailed_at + DOWNTIME_JAIL
    left = node.staking.bonded(ctx, V2.address, "validator")
    assert left == 50 * VCN * (10_000 - DOWNTIME_BPS) // 10_000


def test_same_requests_same_response_bytes(nodes: list[Node], tmp_path: Path) -> None:
    doc = make_doc(GENESIS_VALS)
    a, b = new_node(nodes, tmp_path, doc), new_node(nodes, tmp_path, doc)
    out = []
    for node in (a, b):
        bond = MsgBond(
            address=V3.bech32, role="validator", amount=coin(20 * VCN), consensus_pubkey=K3
        )
        r1 = node.finalize(
            [node.chain.sign(V3, [bond], count=False)],
            votes=[(K1, BLOCK_ID_FLAG_COMMIT), (K2, BLOCK_ID_FLAG_ABSENT)],
            misbehavior=[evidence(K1)],
        )
        out.append(r1.SerializeToString(deterministic=True))
    assert out[0] == out[1]
    r = abci.ResponseFinalizeBlock.FromString(out[0])
    assert vals(r.validator_updates) == sorted([(K1, 0), (K3, 20)])
