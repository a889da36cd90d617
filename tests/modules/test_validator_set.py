"""The CometBFT validator set from staking (issue 15), driven in process.

Validators bond with their ed25519 consensus key; each block answers the
set's changes (new, new power, 0 when gone); CometBFT's misbehavior reports
and last-commit votes slash, tombstone and jail through the slashing params.
Consensus keys here are 32 arbitrary bytes: the app keeps them, CometBFT
checks them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from app.app import App
from chain.context import BlockInfo
from chain.crypto import PrivateKey, module_address, to_bech32
from chain.errors import ChainError
from chain.results import BlockResult
from chain.valset import (
    DUPLICATE_VOTE,
    LIGHT_CLIENT_ATTACK,
    NO_INPUTS,
    ConsensusInputs,
    Misbehavior,
    ValidatorUpdate,
    Vote,
    consensus_address,
)
from modules.staking.msgs import MsgBond
from modules.staking.validators import genesis_validators
from tests.support.chain import BLOCK_INTERVAL_NS, block_hash, test_key
from tests.support.stake import VCN, StakeChain, coin, genesis

V1, V2, V3, V4 = (test_key(i) for i in range(4))
MIN_VALIDATOR = 10 * VCN
WINDOW = 10  # max missed = 10 - 10 * 5000 // 10000 = 5
DOWNTIME_JAIL = 4
DOUBLE_SIGN_BPS = 500
DOWNTIME_BPS = 100
STAKING = {"min_bond_validator": str(MIN_VALIDATOR), "unbonding_blocks": "20"}
SLASHING = {
    "signed_blocks_window": WINDOW,
    "min_signed_per_window_bps": 5_000,
    "downtime_jail_blocks": DOWNTIME_JAIL,
    "slash_fraction_double_sign_bps": DOUBLE_SIGN_BPS,
    "slash_fraction_downtime_bps": DOWNTIME_BPS,
}


def cons_key(n: int) -> bytes:
    return hashlib.sha256(b"consensus key %d" % n).digest()


K1, K2, K3, K4 = (cons_key(i) for i in range(1, 5))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def with_validators(doc: dict[str, Any], vals: Sequence[tuple[PrivateKey, bytes, int]]) -> None:
    """Genesis bonds as validator, and the pool funded with them."""
    st = doc["app_state"].setdefault("staking", {})
    st.setdefault("bonds", []).extend(
        {"address": k.bech32, "role": "validator", "amount": str(n), "consensus_pubkey": b64(pk)}
        for k, pk, n in vals
    )
    pool = to_bech32(module_address("staking"))
    total = sum(n for _, _, n in vals)
    doc["app_state"]["bank"]["balances"].append(
        {"address": pool, "coins": [{"denom": "avcn", "amount": str(total)}]}
    )
    doc["app_state"]["bank"]["balances"].sort(key=lambda b: b["address"])


def make_doc(vals: Sequence[tuple[PrivateKey, bytes, int]] = ()) -> dict[str, Any]:
    doc = genesis(staking=dict(STAKING), slashing=dict(SLASHING))
    if vals:
        with_validators(doc, vals)
    return doc


@pytest.fixture
def chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(make_app(make_doc([(V1, K1, 100 * VCN), (V2, K2, 50 * VCN)])))


def block(
    chain: StakeChain, txs: Sequence[bytes] = (), inputs: ConsensusInputs = NO_INPUTS
) -> BlockResult:
    """The next block with CometBFT's inputs, committed; every invariant holds after it."""
    app = chain.app
    h = chain.height + 1
    t = app.last_block_time_ns + BLOCK_INTERVAL_NS
    res = app.finalize_block(BlockInfo(app.chain_id, h, t, block_hash(h, txs)), list(txs), inputs)
    app.commit()
    assert app.check_invariants() == []
    return res


def bond_tx(
    chain: StakeChain, key: PrivateKey, amount: int, cons: bytes = b"", role: str = "validator"
) -> bytes:
    msg = MsgBond(address=key.bech32, role=role, amount=coin(amount), consensus_pubkey=cons)
    return chain.sign(key, [msg], count=False)


def powers(chain: StakeChain) -> dict[bytes, int]:
    return {v.pubkey: v.power for v in chain.app.validator_set()}


def block_events(res: BlockResult, type_: str) -> list[Any]:
    return [e for e in res.events if e.type == type_]


def signed_by(*keys: bytes, missing: Sequence[bytes] = ()) -> ConsensusInputs:
    votes = [Vote(consensus_address(k), True) for k in keys]
    votes += [Vote(consensus_address(k), False) for k in missing]
    return ConsensusInputs(votes=tuple(votes))


# -- genesis -------------------------------------------------------------------------------
def test_genesis_set_is_what_init_chain_records(make_app: Callable[..., App]) -> None:
    doc = make_doc(
        [
            (V1, K1, 100 * VCN + VCN // 2),  # power 100: whole VCN
            (V2, K2, MIN_VALIDATOR),  # exactly the minimum: in, power 10
            (V3, K3, MIN_VALIDATOR - 1),  # one avcn under: out
            (V4, K4, 30 * VCN),  # jailed: out
        ]
    )
    doc["app_state"]["staking"]["jails"] = [
        {"address": V4.bech32, "role": "validator", "until_height": "1"}
    ]
    expected = sorted([(K1, 100), (K2, 10)])
    assert genesis_validators(doc["app_state"]) == expected
    app = make_app(doc)
    assert [(v.pubkey, v.power) for v in app.validator_set()] == expected
    # a tombstoned validator is out as well; a worker bond never counts
    doc2 = copy.deepcopy(doc)
    doc2["app_state"]["staking"]["tombstones"] = [{"address": V1.bech32, "role": "validator"}]
    assert genesis_validators(doc2["app_state"]) == [(K2, 10)]
    # no staking section: no validators (CometBFT keeps its own genesis validators)
    assert genesis_validators({}) == []


def test_genesis_power_zero_is_left_out(make_app: Callable[..., App]) -> None:
    doc = make_doc([(V1, K1, VCN - 1), (V2, K2, VCN)])
    doc["app_state"]["staking"]["params"]["min_bond_validator"] = "1"
    assert genesis_validators(doc["app_state"]) == [(K2, 1)]
    assert [(v.pubkey, v.power) for v in make_app(doc).validator_set()] == [(K2, 1)]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda b: b.pop("consensus_pubkey"), "consensus_pubkey"),
        (lambda b: b.update(consensus_pubkey="not base64!"), "not base64"),
        (lambda b: b.update(consensus_pubkey=b64(bytes(31))), "32 bytes, got 31"),
        (lambda b: b.update(consensus_pubkey=b64(bytes(33))), "32 bytes, got 33"),
        (lambda b: b.update(role="worker"), "only a validator"),
    ],
)
def test_genesis_consensus_key_is_checked(
    make_app: Callable[..., App], change: Callable[[dict[str, Any]], Any], says: str
) -> None:
    doc = make_doc([(V1, K1, 100 * VCN)])
    change(doc["app_state"]["staking"]["bonds"][0])
    with pytest.raises(ChainError) as e:
        make_app(doc)
    assert (e.value.codespace, e.value.code) == ("staking", 12)
    assert says in e.value.log()


def test_genesis_consensus_key_is_unique(make_app: Callable[..., App]) -> None:
    doc = make_doc([(V1, K1, 100 * VCN), (V2, K1, 50 * VCN)])
    with pytest.raises(ChainError) as e:
        make_app(doc)
    assert f"already the key of {V1.bech32}" in e.value.log()


def test_export_import_keeps_keys_and_set(chain: StakeChain, make_app: Callable[..., App]) -> None:
    assert block(chain, [bond_tx(chain, V3, 20 * VCN, K3)]).tx_results[0].ok
    # V2 leaves with all of its bond: its key stays (its unbonding coins stay slashable)
    assert chain.unbond(V2, "validator", 50 * VCN).ok
    exported = chain.app.export_genesis()
    bonds = {b["address"]: b for b in exported["staking"]["bonds"] if b["role"] == "validator"}
    assert bonds[V3.bech32]["consensus_pubkey"] == b64(K3)
    assert V2.bech32 not in bonds
    assert exported["staking"]["consensus_keys"] == [
        {"address": V2.bech32, "consensus_pubkey": b64(K2)}
    ]
    doc = make_doc()
    doc["app_state"] = exported
    app2 = make_app(doc)
    assert app2.validator_set() == chain.app.validator_set()
    assert app2.export_genesis()["staking"] == exported["staking"]
    assert app2.export_genesis()["slashing"] == exported["slashing"]
    # the key is still V2's: nobody else can take it
    again = StakeChain(app2)
    r = again.tx(
        V4, MsgBond(address=V4.bech32, role="validator", amount=coin(20 * VCN), consensus_pubkey=K2)
    )
    assert not r.ok and f"already the key of {V2.bech32}" in r.log


# -- bonds change the set ------------------------------------------------------------------
def test_bond_as_validator_joins_in_that_block(chain: StakeChain) -> None:
    assert powers(chain) == {K1: 100, K2: 50}
    res = block(chain, [bond_tx(chain, V3, 20 * VCN, K3)])
    assert res.tx_results[0].ok, res.tx_results[0].log
    assert res.validator_updates == (ValidatorUpdate(K3, 20),)
    assert powers(chain) == {K1: 100, K2: 50, K3: 20}
    # a block that changes nothing says nothing
    assert block(chain).validator_updates == ()


def test_bond_under_the_minimum_is_refused_and_at_it_joins(chain: StakeChain) -> None:
    r = block(chain, [bond_tx(chain, V3, MIN_VALIDATOR - 1, K3)]).tx_results[0]
    assert not r.ok and "minimum" in r.log
    res = block(chain, [bond_tx(chain, V3, MIN_VALIDATOR, K3)])
    assert res.validator_updates == (ValidatorUpdate(K3, 10),)


def test_power_change_on_more_bond_and_partial_unbond(chain: StakeChain) -> None:
    # more bond: the key may be repeated or left out
    res = block(chain, [bond_tx(chain, V2, 25 * VCN)])
    assert res.tx_results[0].ok and res.validator_updates == (ValidatorUpdate(K2, 75),)
    res = block(chain, [bond_tx(chain, V2, VCN // 2, K2)])
    # half a VCN more: the same whole-VCN power, no update
    assert res.tx_results[0].ok and res.validator_updates == ()
    assert chain.unbond(V2, "validator", 30 * VCN).ok
    assert powers(chain)[K2] == 45


def test_unbond_removes_with_power_zero(chain: StakeChain) -> None:
    msg = chain.sign(V2, [unbond_msg(V2, 50 * VCN)], count=False)
    res = block(chain, [msg])
    assert res.tx_results[0].ok
    assert res.validator_updates == (ValidatorUpdate(K2, 0),)
    assert powers(chain) == {K1: 100}
    # under the minimum counts as gone too, but the last validator's leave is
    # held back (CometBFT halts with no validator) until another one joins
    res = block(chain, [chain.sign(V1, [unbond_msg(V1, 91 * VCN)], count=False)])
    assert res.tx_results[0].ok and res.validator_updates == ()
    assert powers(chain) == {}
    assert block(chain).validator_updates == ()
    res = block(chain, [bond_tx(chain, V3, 20 * VCN, K3)])
    assert res.validator_updates == tuple(sorted([ValidatorUpdate(K1, 0), ValidatorUpdate(K3, 20)]))


def unbond_msg(key: PrivateKey, amount: int) -> Any:
    from modules.staking.msgs import MsgUnbond

    return MsgUnbond(address=key.bech32, role="validator", amount=coin(amount))


@pytest.mark.parametrize(
    ("role", "cons", "says"),
    [
        ("validator", b"", "first bond must register its consensus_pubkey"),
        ("validator", bytes(31), "consensus_pubkey must be 32 bytes, got 31"),
        ("worker", K3, "only validators register a consensus_pubkey"),
        ("validator", K1, f"already the key of {V1.bech32}"),
    ],
)
def test_bad_validator_bonds_are_refused(
    chain: StakeChain, role: str, cons: bytes, says: str
) -> None:
    res = block(chain, [bond_tx(chain, V3, 20 * VCN, cons, role)])
    assert not res.tx_results[0].ok and says in res.tx_results[0].log
    assert res.validator_updates == ()


def test_consensus_key_cannot_change(chain: StakeChain) -> None:
    r = block(chain, [bond_tx(chain, V1, VCN, K3)]).tx_results[0]
    assert not r.ok and "cannot change" in r.log
    assert powers(chain) == {K1: 100, K2: 50}


# -- misbehavior -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [DUPLICATE_VOTE, LIGHT_CLIENT_ATTACK])
def test_double_sign_slashes_the_fraction_tombstones_and_leaves(
    chain: StakeChain, kind: str
) -> None:
    treasury = chain.module_balance("treasury")
    ev = ConsensusInputs(misbehavior=(Misbehavior(kind, consensus_address(K2), chain.height),))
    res = block(chain, inputs=ev)
    cut = 50 * VCN * DOUBLE_SIGN_BPS // 10_000
    assert cut == 25 * VCN // 10
    assert chain.bonded(V2, "validator") == 50 * VCN - cut
    assert chain.module_balance("treasury") == treasury + cut
    assert chain.staking.is_tombstoned(chain.ctx(), V2.address, "validator")
    assert res.validator_updates == (ValidatorUpdate(K2, 0),)
    [punished] = block_events(res, "DoubleSignPunished")
    assert punished.get("address") == V2.bech32 and punished.get("slashed") == str(cut)
    assert punished.get("kind") == kind
    # a second report of the same fault is ignored: nothing more is cut
    res2 = block(chain, inputs=ev)
    assert chain.bonded(V2, "validator") == 50 * VCN - cut
    assert res2.validator_updates == ()
    [ignored] = block_events(res2, "EvidenceIgnored")
    assert ignored.get("reason") == "the validator is already tombstoned"
    # tombstoned for good: it cannot bond or unjail back into the set
    r = block(chain, [bond_tx(chain, V2, 20 * VCN)]).tx_results[0]
    assert not r.ok and "permanently banned" in r.log


def test_double_sign_also_cuts_unbonding_coins(chain: StakeChain) -> None:
    res = block(chain, [chain.sign(V2, [unbond_msg(V2, 50 * VCN)], count=False)])
    assert res.validator_updates == (ValidatorUpdate(K2, 0),)
    ev = ConsensusInputs(misbehavior=(Misbehavior(DUPLICATE_VOTE, consensus_address(K2), 2),))
    res = block(chain, inputs=ev)
    [punished] = block_events(res, "DoubleSignPunished")
    assert punished.get("slashed") == str(50 * VCN * DOUBLE_SIGN_BPS // 10_000)
    assert res.validator_updates == ()  # already out of the set


def test_evidence_for_an_unknown_address_changes_nothing(
    chain: StakeChain, make_app: Callable[..., App]
) -> None:
    twin = StakeChain(make_app(make_doc([(V1, K1, 100 * VCN), (V2, K2, 50 * VCN)])))
    ev = ConsensusInputs(misbehavior=(Misbehavior(DUPLICATE_VOTE, bytes(20), 1),))
    res = block(chain, inputs=ev)
    plain = block(twin)
    assert res.validator_updates == () and res.app_hash == plain.app_hash
    [ignored] = block_events(res, "EvidenceIgnored")
    assert ignored.get("reason") == "no validator has this consensus address"
    assert powers(chain) == {K1: 100, K2: 50}


# -- missed blocks -------------------------------------------------------------------------
@pytest.mark.parametrize(("missed", "jailed"), [(4, False), (5, False), (6, True)])
def test_missed_blocks_at_under_and_over_the_threshold(
    chain: StakeChain, missed: int, jailed: bool
) -> None:
    # window 10, min signed 50 %: 5 missed blocks are allowed, the 6th jails
    results = [block(chain, inputs=signed_by(K1, missing=[K2])) for _ in range(missed)]
    results += [block(chain, inputs=signed_by(K1, K2)) for _ in range(WINDOW - missed)]
    updates = [u for r in results for u in r.validator_updates]
    until = chain.staking.jailed_until(chain.ctx(), V2.address, "validator")
    if not jailed:
        assert updates == [] and until == 0
        assert powers(chain) == {K1: 100, K2: 50}
        assert chain.bonded(V2, "validator") == 50 * VCN
        return
    # jailed in the block of its 6th miss, out of the set in that block's updates
    jail_block = results[missed - 1]
    assert jail_block.validator_updates == (ValidatorUpdate(K2, 0),)
    assert until == jail_block.height + DOWNTIME_JAIL
    cut = 50 * VCN * DOWNTIME_BPS // 10_000
    assert chain.bonded(V2, "validator") == 50 * VCN - cut
    [ev] = block_events(jail_block, "DowntimePunished")
    assert ev.get("missed") == "6" and ev.get("window") == str(WINDOW)
    assert powers(chain) == {K1: 100}


def test_missed_blocks_slide_out_of_the_window(chain: StakeChain) -> None:
    # 5 missed, 5 signed, then 5 missed again: the first 5 have left the window
    for signed in [False] * 5 + [True] * 5 + [False] * 5:
        inputs = signed_by(K1, K2) if signed else signed_by(K1, missing=[K2])
        assert block(chain, inputs=inputs).validator_updates == ()
    assert chain.staking.jailed_until(chain.ctx(), V2.address, "validator") == 0
    # one more miss: 6 in the last 10 blocks
    res = block(chain, inputs=signed_by(K1, missing=[K2]))
    assert res.validator_updates == (ValidatorUpdate(K2, 0),)


def test_unjail_after_downtime_brings_it_back(chain: StakeChain) -> None:
    for _ in range(6):
        res = block(chain, inputs=signed_by(K1, missing=[K2]))
    until = chain.staking.jailed_until(chain.ctx(), V2.address, "validator")
    assert until == res.height + DOWNTIME_JAIL
    # the votes of a jailed validator no longer count against it
    block(chain, inputs=signed_by(K1, missing=[K2]))
    early = block(chain, [chain.sign(V2, [unjail_msg(V2)], count=False)])
    assert not early.tx_results[0].ok and "jailed" in early.tx_results[0].log
    while chain.height + 1 < until:
        block(chain)
    res = block(chain, [chain.sign(V2, [unjail_msg(V2)], count=False)])
    assert res.tx_results[0].ok, res.tx_results[0].log
    power = (50 * VCN - 50 * VCN * DOWNTIME_BPS // 10_000) // VCN
    assert res.validator_updates == (ValidatorUpdate(K2, power),)
    # its window starts again: 5 misses are allowed once more
    for _ in range(5):
        assert block(chain, inputs=signed_by(K1, missing=[K2])).validator_updates == ()


def unjail_msg(key: PrivateKey) -> Any:
    from modules.staking.msgs import MsgUnjail

    return MsgUnjail(address=key.bech32, role="validator")


def test_votes_of_unknown_addresses_are_ignored(chain: StakeChain) -> None:
    for _ in range(WINDOW + 1):
        res = block(chain, inputs=ConsensusInputs(votes=(Vote(bytes(20), False),)))
        assert res.validator_updates == ()
    assert powers(chain) == {K1: 100, K2: 50}


# -- params ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("signed_blocks_window", 0, False),
        ("signed_blocks_window", 1, True),
        ("signed_blocks_window", 10_000, True),
        ("signed_blocks_window", 10_001, False),
        ("min_signed_per_window_bps", 10_000, True),
        ("min_signed_per_window_bps", 10_001, False),
        ("downtime_jail_blocks", 0, False),
        ("downtime_jail_blocks", 1, True),
        ("slash_fraction_double_sign_bps", 10_001, False),
        ("slash_fraction_downtime_bps", -1, False),
        ("slash_fraction_downtime_bps", 0, True),
    ],
)
def test_slashing_validator_params_are_checked(
    chain: StakeChain, field: str, value: int, ok: bool
) -> None:
    from tests.support.chain import PLATFORM

    r = chain.update_params(PLATFORM, "slashing", {field: value})
    assert r.ok is ok, r.log
    if not ok:
        assert field in r.log


def test_max_missed_blocks_rounds_the_minimum_down() -> None:
    from modules.slashing.params import Params

    assert Params().max_missed_blocks() == 50  # defaults: window 100, 50 %
    assert Params(signed_blocks_window=7, min_signed_per_window_bps=5_000).max_missed_blocks() == 4
    assert Params(signed_blocks_window=10, min_signed_per_window_bps=0).max_missed_blocks() == 10
    assert (
        Params(signed_blocks_window=10, min_signed_per_window_bps=10_000).max_missed_blocks() == 0
    )


# -- determinism ----------------------------------------------------------------------------
def test_same_inputs_give_the_same_updates_and_app_hash(make_app: Callable[..., App]) -> None:
    vals = [(V1, K1, 100 * VCN), (V2, K2, 50 * VCN), (V3, K3, 30 * VCN)]
    a, b = (StakeChain(make_app(make_doc(vals))) for _ in range(2))
    assert a.app_hash == b.app_hash
    script = [
        ConsensusInputs(
            votes=(Vote(consensus_address(K3), True), Vote(consensus_address(K1), False)),
            misbehavior=(Misbehavior(DUPLICATE_VOTE, consensus_address(K2), 1),),
        ),
        ConsensusInputs(misbehavior=(Misbehavior(DUPLICATE_VOTE, consensus_address(K3), 1),)),
    ]
    out = []
    for chain in (a, b):
        txs = [bond_tx(chain, V4, 40 * VCN, K4), bond_tx(chain, V1, 5 * VCN)]
        r1 = block(chain, txs, script[0])
        r2 = block(chain, inputs=script[1])
        out.append((r1.validator_updates, r1.app_hash, r2.validator_updates, r2.app_hash))
    assert out[0] == out[1]
    # sorted by public key, whatever the order of the causes
    first = out[0][0]
    assert list(first) == sorted(first)
    assert {u.pubkey: u.power for u in first} == {K1: 105, K2: 0, K4: 40}


# -- queries and the CLI flag ------------------------------------------------------------
def test_queries_show_the_set_and_the_keys(chain: StakeChain) -> None:
    q = chain.app.custom_query("staking", "validator_set", {})
    by_key = sorted([(K1, V1, "100"), (K2, V2, "50")])
    assert q["validators"] == [
        {
            "address": who.bech32,
            "consensus_pubkey": b64(pk),
            "consensus_address": consensus_address(pk).hex().upper(),
            "power": power,
        }
        for pk, who, power in by_key
    ]
    bond = chain.app.custom_query("staking", "bond", {"address": V2.bech32, "role": "validator"})
    assert bond["consensus_pubkey"] == b64(K2)
    worker = chain.app.custom_query("staking", "bond", {"address": V2.bech32, "role": "worker"})
    assert "consensus_pubkey" not in worker


def test_cli_consensus_pubkey_flag_reads_base64() -> None:
    from chain.cli.common import CliError
    from modules.staking.cli import _consensus_pubkey

    assert _consensus_pubkey(b64(K1)) == K1
    with pytest.raises(CliError, match="must be base64"):
        _consensus_pubkey("zz!")
    with pytest.raises(CliError, match="32 bytes, got 31"):
        _consensus_pubkey(b64(bytes(31)))


def test_missed_blocks_query_counts_the_window(chain: StakeChain) -> None:
    for signed in (False, True, False):
        block(chain, inputs=signed_by(K1, K2) if signed else signed_by(K1, missing=[K2]))
    q = chain.app.custom_query("slashing", "missed_blocks", {"address": V2.bech32})
    assert q == {"counted": "3", "missed": "2", "window": str(WINDOW), "max_missed": "5"}
    with pytest.raises(ChainError, match="address"):
        chain.app.custom_query("slashing", "missed_blocks", {"address": "nope"})
