"""The training module as the app sees it: messages, queries, genesis, invariants.

It has no block hooks of its own: it moves on when the jobs module tells it that
one of its jobs ended (``TrainingKeeper.after_job_final``, appended to the jobs
keeper's hooks by the wiring)."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.training import genesis, handlers, invariants, msgs, queries
from modules.training.keeper import TrainingKeeper
from modules.training.keys import NAME


def build(k: TrainingKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.POST_TRAINING_URL,
                msgs.MsgPostTraining,
                signer=lambda m: m.poster,
                validate=msgs.validate_post_training,
                handler=handlers.make_post_training(k),
            ),
            MsgSpec(
                msgs.CANCEL_TRAINING_URL,
                msgs.MsgCancelTraining,
                signer=lambda m: m.poster,
                validate=msgs.validate_cancel_training,
                handler=handlers.make_cancel_training(k),
            ),
        ],
        queries={
            "training": queries.training,
            "trainings": queries.trainings,
            "by_job": queries.by_job,
            "params": queries.params,
        },
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        invariants=invariants.invariants(k),
    )
