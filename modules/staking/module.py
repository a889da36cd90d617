"""The staking module as the app sees it."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.staking import genesis, handlers, invariants, msgs, queries, validators
from modules.staking.keeper import StakingKeeper
from modules.staking.keys import NAME


def build(keeper: StakingKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.BOND_URL,
                msgs.MsgBond,
                signer=lambda m: m.address,
                validate=msgs.validate_bond,
                handler=handlers.make_bond(keeper),
            ),
            MsgSpec(
                msgs.UNBOND_URL,
                msgs.MsgUnbond,
                signer=lambda m: m.address,
                validate=msgs.validate_unbond,
                handler=handlers.make_unbond(keeper),
            ),
            MsgSpec(
                msgs.UNJAIL_URL,
                msgs.MsgUnjail,
                signer=lambda m: m.address,
                validate=msgs.validate_unjail,
                handler=handlers.make_unjail(keeper),
            ),
        ],
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=keeper.release_matured,
        # after every end block: bonds, unbonds, jails and slashes change the set
        validator_updates=validators.updates,
        validator_set=validators.validator_set,
        invariants=invariants.invariants(keeper),
    )
