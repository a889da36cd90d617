"""Which modules the app runs, in which order, and how their keepers connect.

This is the one place to add a module: build its keeper from the keepers it
needs (its ``expected.py``), add it to ``modules`` (genesis and block hooks run
in this order) and, if it has params, to ``params_owners``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Module, MsgSpec
from modules import (
    auth,
    authz,
    bank,
    drip,
    evm,
    jobs,
    mint,
    reputation,
    slashing,
    staking,
    training,
    verification,
)
from modules.auth import state as auth_state
from modules.auth.expected import ParamsOwner
from modules.auth.genesis import MODULE_ACCOUNTS
from modules.auth.keeper import AccountKeeper
from modules.authz import state as authz_state
from modules.authz.expected import no_spend
from modules.authz.keeper import AuthzKeeper
from modules.bank import state as bank_state
from modules.bank.keeper import BankKeeper
from modules.drip import state as drip_state
from modules.drip.keeper import DripKeeper
from modules.evm import state as evm_state
from modules.evm.bridge import Bridge
from modules.evm.keeper import EvmKeeper
from modules.jobs import state as jobs_state
from modules.jobs.keeper import JobsKeeper
from modules.jobs.msgs import CANCEL_JOB_URL, POST_JOB_URL, PostJob
from modules.mint import state as mint_state
from modules.mint.keeper import MintKeeper
from modules.reputation import state as reputation_state
from modules.reputation.keeper import ReputationKeeper
from modules.slashing import state as slashing_state
from modules.slashing.keeper import SlashingKeeper
from modules.staking import state as staking_state
from modules.staking.keeper import StakingKeeper
from modules.training import state as training_state
from modules.training.keeper import TrainingKeeper
from modules.training.msgs import CANCEL_TRAINING_URL, POST_TRAINING_URL, PostTraining
from modules.verification import state as verification_state
from modules.verification.keeper import VerificationKeeper


@dataclass
class Wiring:
    accounts: AccountKeeper
    bank: BankKeeper
    modules: list[Module]
    params_owners: dict[str, ParamsOwner]
    # Every module keeper by module name, for drivers and tests.
    keepers: dict[str, object] = field(default_factory=dict)


def post_job_spend(ctx: Ctx, parsed: object) -> int:
    """What a post job escrows from its poster: its max price (the jobs handler's
    ``take_escrow``), the spend authz counts against a grant's limit."""
    if not isinstance(parsed, PostJob):
        raise TypeError(f"post job spend of a {type(parsed).__name__}")
    return parsed.max_price


def post_training_spend(ctx: Ctx, parsed: object) -> int:
    """What a post training escrows from its poster, all at once: rounds × (shards ×
    price_per_shard + aggregate_price), the spend authz counts against a grant's limit."""
    if not isinstance(parsed, PostTraining):
        raise TypeError(f"post training spend of a {type(parsed).__name__}")
    return parsed.escrow


def build() -> Wiring:
    accounts = AccountKeeper()
    bank_keeper = BankKeeper(accounts, frozenset(module_address(n) for n in MODULE_ACCOUNTS))
    staking_keeper = StakingKeeper(bank_keeper)
    reputation_keeper = ReputationKeeper(staking_keeper)
    slashing_keeper = SlashingKeeper(staking_keeper, reputation_keeper)
    mint_keeper = MintKeeper(bank_keeper, staking_keeper)
    jobs_keeper = JobsKeeper(
        bank_keeper, accounts, staking_keeper, reputation_keeper, slashing_keeper, mint_keeper
    )
    verification_keeper = VerificationKeeper(
        jobs_keeper, staking_keeper, reputation_keeper, slashing_keeper, accounts
    )
    drip_keeper = DripKeeper(bank_keeper, accounts)
    # training posts its shard and aggregate jobs through jobs and hears their ends
    training_keeper = TrainingKeeper(bank_keeper, jobs_keeper)
    jobs_keeper.hooks.append(training_keeper)
    # a training's jobs are controlled (as canaries) by the training's poster
    verification_keeper.owners.append(training_keeper)
    # authz: only job and training messages are grantable; a post spends its escrow
    authz_keeper = AuthzKeeper()
    authz_keeper.allow(POST_JOB_URL, post_job_spend)
    authz_keeper.allow(CANCEL_JOB_URL, no_spend)
    authz_keeper.allow(POST_TRAINING_URL, post_training_spend)
    authz_keeper.allow(CANCEL_TRAINING_URL, no_spend)
    evm_keeper = EvmKeeper(bank_keeper, accounts, bank_keeper.blocked)
    routes: dict[str, MsgSpec] = {}  # filled below, once every module is built
    evm_keeper.bridge = Bridge(
        bank=bank_keeper,
        staking=staking_keeper,
        slashing=slashing_keeper,
        routes=routes,
        authority=accounts.authority,
        get_job=jobs_keeper.get_job,
        burn_bps=lambda ctx: jobs_state.get_params(ctx).burn_bps,
        platform_mint=mint_keeper.platform_mint,
    )
    params_owners: dict[str, ParamsOwner] = {
        p.module: p
        for p in (
            auth_state.PARAMS,
            bank_state.PARAMS,
            staking_state.PARAMS,
            reputation_state.PARAMS,
            slashing_state.PARAMS,
            mint_state.PARAMS,
            jobs_state.PARAMS,
            verification_state.PARAMS,
            drip_state.PARAMS,
            authz_state.PARAMS,
            evm_state.PARAMS,
            training_state.PARAMS,
        )
    }
    modules = [
        auth.build(lambda: params_owners),
        bank.build(bank_keeper),
        staking.build(staking_keeper),  # end block: releases matured unbonding
        reputation.build(reputation_keeper),
        slashing.build(slashing_keeper),  # CometBFT's evidence and missed blocks
        jobs.build(jobs_keeper),  # end block: claim and result deadlines
        verification.build(verification_keeper),  # end block: draws, windows, verdicts
        mint.build(mint_keeper),  # end block: mints at epoch boundaries
        drip.build(drip_keeper),
        authz.build(authz_keeper),  # MsgExec runs inner messages through these routes
        evm.build(evm_keeper),  # Ethereum txs; end block: the next base fee
        training.build(training_keeper),  # moves on from the jobs module's hook
    ]
    routes.update({s.type_url: s for m in modules for s in m.msgs})
    authz_keeper.set_routes(dict(routes))
    keepers: dict[str, object] = {
        "staking": staking_keeper,
        "reputation": reputation_keeper,
        "slashing": slashing_keeper,
        "mint": mint_keeper,
        "jobs": jobs_keeper,
        "verification": verification_keeper,
        "drip": drip_keeper,
        "authz": authz_keeper,
        "evm": evm_keeper,
        "training": training_keeper,
    }
    return Wiring(accounts, bank_keeper, modules, params_owners, keepers)
