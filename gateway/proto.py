"""The chain messages the gateway signs, ``vcoin.authz.v1.MsgExec`` wrapping
``vcoin.jobs.v1.MsgPostJob`` or ``vcoin.training.v1.MsgPostTraining`` /
``MsgCancelTraining``, built from descriptors declared here.

The gateway reaches the chain as a client only (it may not import ``modules``), so
it declares the wire shape of the messages it sends itself, in a private descriptor
pool (no clash with the modules' generated classes when both are loaded). The field
numbers are those of ``proto/vcoin/jobs/v1/tx.proto``, ``proto/vcoin/training/v1/tx.proto``
and ``proto/vcoin/authz/v1/tx.proto``;
``MsgExec.msgs`` is a ``google.protobuf.Any`` on the wire (``type_url`` = 1, ``value`` = 2),
declared here as a message of the same two fields. ``tests/gateway/test_openai.py``
and ``tests/gateway/test_finetune_training.py`` check the bytes against the modules' own
classes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _BYTES, _U32, _U64, _MSG = (
    _F.TYPE_STRING,
    _F.TYPE_BYTES,
    _F.TYPE_UINT32,
    _F.TYPE_UINT64,
    _F.TYPE_MESSAGE,
)
_LIST = -1  # a repeated string (target_modules)

POST_JOB_FIELDS: tuple[tuple[str, int], ...] = (
    ("poster", _STRING),
    ("task_type", _STRING),
    ("model", _STRING),
    ("input_hash", _STRING),
    ("inline_input", _BYTES),
    ("spec", _STRING),
    ("max_price", _STRING),
    ("priority", _U32),
    ("claim_blocks", _U64),
    ("result_blocks", _U64),
    ("min_gpu_memory_mib", _U64),
    ("min_gpu_count", _U32),
    ("gpu_model", _STRING),
)


POST_TRAINING_FIELDS: tuple[tuple[str, int], ...] = (
    ("poster", _STRING),
    ("model", _STRING),
    ("dataset", _STRING),
    ("manifest", _STRING),
    ("records", _U64),
    ("shards", _U32),
    ("rounds", _U32),
    ("steps", _U32),
    ("rank", _U32),
    ("alpha", _U32),
    ("target_modules", _LIST),
    ("lr_micro", _U64),
    ("batch_size", _U32),
    ("seed", _U64),
    ("max_length", _U32),
    ("aggregation", _STRING),
    ("price_per_shard", _STRING),
    ("aggregate_price", _STRING),
    ("shard_blocks", _U64),
)
CANCEL_TRAINING_FIELDS: tuple[tuple[str, int], ...] = (("poster", _STRING), ("training_id", _U64))


def _message(
    f: descriptor_pb2.FileDescriptorProto, name: str, fields: tuple[tuple[str, int], ...]
) -> descriptor_pb2.DescriptorProto:
    m = f.message_type.add(name=name)
    for i, (fname, ftype) in enumerate(fields, start=1):
        if ftype == _LIST:
            m.field.add(name=fname, number=i, type=_STRING, label=_F.LABEL_REPEATED)
        else:
            m.field.add(name=fname, number=i, type=ftype, label=_F.LABEL_OPTIONAL)
    return m


def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    jobs = descriptor_pb2.FileDescriptorProto(
        name="gateway/vcoin_jobs_post.proto", package="vcoin.jobs.v1", syntax="proto3"
    )
    _message(jobs, "MsgPostJob", POST_JOB_FIELDS)
    pool.Add(jobs)
    training = descriptor_pb2.FileDescriptorProto(
        name="gateway/vcoin_training.proto", package="vcoin.training.v1", syntax="proto3"
    )
    _message(training, "MsgPostTraining", POST_TRAINING_FIELDS)
    _message(training, "MsgCancelTraining", CANCEL_TRAINING_FIELDS)
    pool.Add(training)
    authz = descriptor_pb2.FileDescriptorProto(
        name="gateway/vcoin_authz_exec.proto", package="vcoin.authz.v1", syntax="proto3"
    )
    _message(authz, "WireAny", (("type_url", _STRING), ("value", _BYTES)))
    m = _message(authz, "MsgExec", (("grantee", _STRING),))
    m.field.add(
        name="msgs",
        number=2,
        type=_MSG,
        label=_F.LABEL_REPEATED,
        type_name=".vcoin.authz.v1.WireAny",
    )
    pool.Add(authz)
    return pool


_POOL = _pool()
MsgPostJob: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("vcoin.jobs.v1.MsgPostJob")
)
MsgExec: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("vcoin.authz.v1.MsgExec")
)
MsgPostTraining: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("vcoin.training.v1.MsgPostTraining")
)
MsgCancelTraining: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("vcoin.training.v1.MsgCancelTraining")
)
POST_JOB_URL = "/vcoin.jobs.v1.MsgPostJob"
EXEC_URL = "/vcoin.authz.v1.MsgExec"
POST_TRAINING_URL = "/vcoin.training.v1.MsgPostTraining"
CANCEL_TRAINING_URL = "/vcoin.training.v1.MsgCancelTraining"


def exec_post_job(grantee: str, **post: Any) -> Message:
    """``MsgExec(grantee, [MsgPostJob(**post)])``: the gateway posts for ``post["poster"]``."""
    inner = MsgPostJob(**post)
    msg: Message = MsgExec(grantee=grantee)
    any_msg = msg.msgs.add()  # type: ignore[attr-defined]
    any_msg.type_url = POST_JOB_URL
    any_msg.value = inner.SerializeToString()
    return msg


def exec_of(grantee: str, url: str, inner: Message) -> Message:
    """``MsgExec(grantee, [inner])``, ``inner`` packed as the ``url`` type."""
    msg: Message = MsgExec(grantee=grantee)
    any_msg = msg.msgs.add()  # type: ignore[attr-defined]
    any_msg.type_url = url
    any_msg.value = inner.SerializeToString()
    return msg


def exec_post_training(grantee: str, **post: Any) -> Message:
    """``MsgExec(grantee, [MsgPostTraining(**post)])``: a training for ``post["poster"]``."""
    return exec_of(grantee, POST_TRAINING_URL, MsgPostTraining(**post))


def exec_cancel_training(grantee: str, poster: str, training_id: int) -> Message:
    """``MsgExec(grantee, [MsgCancelTraining(poster, training_id)])``."""
    inner = MsgCancelTraining(poster=poster, training_id=training_id)
    return exec_of(grantee, CANCEL_TRAINING_URL, inner)
