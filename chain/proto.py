"""Protobuf message types for VCoin's own messages, declared in Python.

Cosmos' own types come from cosmpy. VCoin's messages are declared here as
(field name, type, number) lists and turned into real protobuf classes at
import, so wallets encode them as ordinary ``Any`` messages with type URLs
such as ``/vcoin.jobs.v1.MsgPostJob`` and no generated code is kept in git.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_T = descriptor_pb2.FieldDescriptorProto
_TYPES = {
    "string": _T.TYPE_STRING,
    "bytes": _T.TYPE_BYTES,
    "uint64": _T.TYPE_UINT64,
    "int64": _T.TYPE_INT64,
    "uint32": _T.TYPE_UINT32,
    "bool": _T.TYPE_BOOL,
}

FieldSpec = tuple[str, str, int]  # (name, type, number); type may end in "[]" for repeated


def declare(package: str, messages: dict[str, list[FieldSpec]]) -> dict[str, type[Message]]:
    """Build message classes ``package.Name`` from field lists.

    A type that is not a scalar names another message of the same package,
    or, when it contains a dot, a message already loaded in the default pool
    (e.g. ``cosmos.base.v1beta1.Coin`` from cosmpy), so wallets reuse its type.
    """
    pool = descriptor_pool.Default()
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"{package.replace('.', '/')}/vcoin_declared.proto",
        package=package,
        syntax="proto3",
    )
    for mname, fields in messages.items():
        m = fdp.message_type.add(name=mname)
        for fname, ftype, num in fields:
            repeated = ftype.endswith("[]")
            base = ftype[:-2] if repeated else ftype
            f = m.field.add(name=fname, number=num)
            f.label = _T.LABEL_REPEATED if repeated else _T.LABEL_OPTIONAL
            if base in _TYPES:
                f.type = _TYPES[base]
            elif "." in base:
                f.type = _T.TYPE_MESSAGE
                f.type_name = f".{base}"
                dep = pool.FindMessageTypeByName(base).file.name
                if dep not in fdp.dependency:
                    fdp.dependency.append(dep)
            else:
                f.type = _T.TYPE_MESSAGE
                f.type_name = f".{package}.{base}"
    pool.AddSerializedFile(fdp.SerializeToString())
    out: dict[str, type[Message]] = {}
    for mname in messages:
        desc = pool.FindMessageTypeByName(f"{package}.{mname}")
        out[mname] = message_factory.GetMessageClass(desc)
    return out


def type_url(cls: type[Message]) -> str:
    return "/" + cls.DESCRIPTOR.full_name
