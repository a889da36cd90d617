"""Every module's invariants: each module has some, in its own ``invariants.py``;
the simulation's chain driver runs every one of them after every block; and
each one reports a message when the state it guards is corrupted (a bad value
written straight into the store), so none of them can pass vacuously."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import wiring
from app.app import App
from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import PrivateKey, module_address
from chain.module import Invariant
from modules.auth import state as auth_state
from modules.auth.state import Account
from modules.authz import keys as authz_keys
from modules.bank import state as bank_state
from modules.drip import state as drip_state
from modules.evm import keys as evm_keys
from modules.evm import state as evm_state
from modules.jobs import keys as jobs_keys
from modules.jobs import state as jobs_state
from modules.jobs.records import STATE_BYTE
from modules.jobs.settlement import ESCROW
from modules.mint import keys as mint_keys
from modules.mint.keys import ACCOUNT as MINT_ACCOUNT
from modules.reputation import state as reputation_state
from modules.reputation.state import Record
from modules.slashing import keys as slashing_keys
from modules.slashing.params import Params as SlashingParams
from modules.staking import keys as staking_keys
from modules.staking import state as staking_state
from modules.verification import state as verification_state
from modules.verification.records import CHECKING, Pending
from tests.modules.test_simulation import Actor, Sim
from tests.modules.test_simulation import setup as setup_market
from tests.support.chain import new_app, test_key
from tests.support.genesis import market_genesis
from tests.support.market import Market

ROOT = Path(__file__).resolve().parents[2]
SIM_BLOCKS = 30
STRANGER = PrivateKey.from_seed(b"an address no test funds").address


# -- (a) every module has invariants, in its invariants.py ----------------------------


def test_every_module_has_invariants_built_by_its_invariants_py() -> None:
    modules = wiring.build().modules
    assert len(modules) == 12
    for m in modules:
        assert (ROOT / "modules" / m.name / "invariants.py").is_file(), m.name
        assert m.invariants, f"module {m.name} registers no invariant"
        for name, fn in m.invariants.items():
            assert fn.__module__ == f"modules.{m.name}.invariants", (m.name, name)


# -- (b) the simulation runs them all after every block --------------------------------


@dataclass
class Simulated:
    app: App
    calls: dict[str, int]
    blocks: int


def _counting(fn: Invariant, calls: dict[str, int], key: str) -> Invariant:
    def check(ctx: Ctx) -> str | None:
        calls[key] += 1
        return fn(ctx)

    return check


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    """A marketplace after a short run of the simulation test's traffic, every
    invariant wrapped to count its calls."""
    genesis = market_genesis(
        verification={"attest_window_blocks": 6, "base_sample_bps": 5000},
        jobs={"default_claim_blocks": 15, "default_result_blocks": 4},
        mint={"epoch_blocks": 10},
    )
    app = new_app(tmp_path_factory.mktemp("invariants") / "app", genesis)
    calls: dict[str, int] = {}
    for m in app.modules:
        for name, fn in list(m.invariants.items()):
            key = f"{m.name}/{name}"
            calls[key] = 0
            m.invariants[name] = _counting(fn, calls, key)
    market = Market(app)
    workers = [Actor(test_key(0)), Actor(test_key(1), cheat_rate=0.4)]
    oracles = [test_key(20)]
    start = market.height
    setup_market(market, workers, oracles)
    sim = Sim(market, 5, workers, oracles, [test_key(i) for i in range(10, 14)])
    for _ in range(SIM_BLOCKS):
        sim.step()  # Market.block runs app.check_invariants() and asserts it is empty
    yield Simulated(app, calls, market.height - start)
    app.close()


def test_the_simulation_runs_every_invariant_after_every_block(simulated: Simulated) -> None:
    assert simulated.blocks == SIM_BLOCKS + 1
    assert simulated.calls == dict.fromkeys(simulated.calls, simulated.blocks)
    assert set(simulated.calls) == {
        f"{m.name}/{n}" for m in wiring.build().modules for n in m.invariants
    }


# -- (c) each invariant fails on the state it guards -----------------------------------


def _some_account(ctx: Ctx) -> Account:
    return next(a for a in auth_state.iterate_accounts(ctx) if a.module is None)


def _unnumbered_account(ctx: Ctx) -> None:
    """An account created without taking the next number."""
    auth_state.set_account(ctx, Account(STRANGER, auth_state.next_account_number(ctx)))


def _shared_number(ctx: Ctx) -> None:
    auth_state.set_account(ctx, Account(STRANGER, _some_account(ctx).number))


def _coin_from_nowhere(ctx: Ctx) -> None:
    addr = _some_account(ctx).address
    bank_state.set_balance(ctx, addr, DENOM, bank_state.balance(ctx, addr, DENOM) + 1)


def _bond_without_coins(ctx: Ctx) -> None:
    staking_state.set_bond(ctx, STRANGER, "worker", 5)  # keeps the total in step


def _total_off(ctx: Ctx) -> None:
    total = staking_state.total_bonded(ctx, "worker") + 7
    ctx.kv(staking_keys.NAME).set(staking_keys.total("worker"), total.to_bytes(32, "big"))


def _more_successes_than_results(ctx: Ctx) -> None:
    reputation_state.set_record(ctx, STRANGER, Record(successes=2, total=1))


def _params_out_of_range(ctx: Ctx) -> None:
    bad = {**SlashingParams().to_json(), "slash_fraction_bps": 20_000}
    raw = json.dumps(bad, sort_keys=True).encode()
    ctx.kv(slashing_keys.NAME).set(slashing_keys.PARAMS, raw)


def _params_not_json(ctx: Ctx) -> None:
    ctx.kv(slashing_keys.NAME).set(slashing_keys.PARAMS, b"\xff{")


def _params_unknown_field(ctx: Ctx) -> None:
    raw = json.dumps({"slash_everyone": 1}).encode()
    ctx.kv(slashing_keys.NAME).set(slashing_keys.PARAMS, raw)


def _units_without_total(ctx: Ctx) -> None:
    ctx.kv(mint_keys.NAME).set(mint_keys.units(STRANGER), (5).to_bytes(1, "big"))


def _mint_account_kept_coins(ctx: Ctx) -> None:
    bank_state.set_balance(ctx, module_address(MINT_ACCOUNT), DENOM, 3)


def _escrow_off(ctx: Ctx) -> None:
    addr = module_address(ESCROW)
    bank_state.set_balance(ctx, addr, DENOM, bank_state.balance(ctx, addr, DENOM) + 1)


def _stray_state_index(ctx: Ctx) -> None:
    missing = jobs_state.next_job_id(ctx) + 5
    ctx.kv(jobs_keys.NAME).set(jobs_keys.by_state(STATE_BYTE["queued"], 10, missing), b"")


def _pending_for_no_checking_job(ctx: Ctx) -> None:
    missing = jobs_state.next_job_id(ctx) + 5
    p = Pending(missing, STRANGER, 1, CHECKING, ctx.block.height + 10)
    verification_state.put_pending(ctx, p)


def _drip_in_the_future(ctx: Ctx) -> None:
    drip_state.set_dripped(ctx, STRANGER, ctx.block.height + 5)


def _grantee_index_without_grant(ctx: Ctx) -> None:
    url = "/vcoin.jobs.v1.MsgPostJob"
    ctx.kv(authz_keys.NAME).set(authz_keys.by_grantee(STRANGER, STRANGER[::-1], url), b"")


def _code_not_its_hash(ctx: Ctx) -> None:
    ctx.kv(evm_keys.NAME).set(evm_keys.code(STRANGER), b"\x00" * 32 + b"\x60\x00")


def _base_fee_under_floor(ctx: Ctx) -> None:
    evm_state.set_base_fee(ctx, evm_state.get_params(ctx).min_base_fee - 1)


def _block_gas_left_over(ctx: Ctx) -> None:
    evm_state.add_block_gas(ctx, 21_000)


def _expiry_without_grant(ctx: Ctx) -> None:
    url = "/vcoin.jobs.v1.MsgPostJob"
    ctx.kv(authz_keys.NAME).set(authz_keys.expiry(7, STRANGER, STRANGER[::-1], url), b"")


def _training_account_off(ctx: Ctx) -> None:
    addr = module_address("training")
    bank_state.set_balance(ctx, addr, DENOM, bank_state.balance(ctx, addr, DENOM) + 1)


CORRUPTIONS: dict[str, list[Callable[[Ctx], None]]] = {
    "auth/numbers_below_next": [_unnumbered_account],
    "auth/numbers_unique": [_shared_number],
    "bank/supply": [_coin_from_nowhere],
    "staking/pool": [_bond_without_coins],
    "staking/totals": [_total_off],
    "reputation/records": [_more_successes_than_results],
    "slashing/params": [_params_out_of_range, _params_not_json, _params_unknown_field],
    "mint/units": [_units_without_total],
    "mint/account_empty": [_mint_account_kept_coins],
    "jobs/escrow": [_escrow_off],
    "jobs/states": [_stray_state_index],
    "verification/pending": [_pending_for_no_checking_job],
    "drip/no_future_drips": [_drip_in_the_future],
    "authz/indexes_match": [_grantee_index_without_grant, _expiry_without_grant],
    "evm/code_hashes": [_code_not_its_hash],
    "evm/base_fee": [_base_fee_under_floor, _block_gas_left_over],
    "training/escrow": [_training_account_off],
}
CASES = [(name, c) for name, cs in CORRUPTIONS.items() for c in cs]


def test_every_invariant_has_a_corruption_case() -> None:
    registered = {f"{m.name}/{n}" for m in wiring.build().modules for n in m.invariants}
    assert registered == set(CORRUPTIONS)


@pytest.mark.parametrize(("name", "corrupt"), CASES, ids=[f"{n}:{c.__name__}" for n, c in CASES])
def test_each_invariant_reports_the_corruption_it_guards(
    simulated: Simulated, name: str, corrupt: Callable[[Ctx], None]
) -> None:
    module, inv = name.split("/")
    check = next(m for m in simulated.app.modules if m.name == module).invariants[inv]
    ctx = simulated.app.query_ctx().branch()  # writes stay in this branch
    assert check(ctx) is None
    corrupt(ctx)
    msg = check(ctx)
    assert isinstance(msg, str) and msg, f"{name} did not notice {corrupt.__name__}"
