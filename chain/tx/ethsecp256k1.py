"""Ethermint's ``/ethermint.crypto.v1.ethsecp256k1.PubKey``: the protobuf type of an
``eth_secp256k1`` account key in a Cosmos tx (a SignerInfo's public key, an
account's ``pub_key`` over REST).

Its shape is the Cosmos secp256k1 ``PubKey``'s (``bytes key = 1``, the 33-byte
compressed key); only the type URL differs, and with it the key's rules (see
``chain/crypto.py``). The message is registered in protobuf's default pool
here, built from its descriptor, so that ``json_format`` can print an ``Any``
that holds one; no .proto file is vendored for one field.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

PACKAGE = "ethermint.crypto.v1.ethsecp256k1"
TYPE_URL = f"/{PACKAGE}.PubKey"
_FILE = "ethermint/crypto/v1/ethsecp256k1/keys.proto"


def _message_class() -> type[Message]:
    pool = descriptor_pool.Default()
    try:
        fd = pool.FindFileByName(_FILE)
    except KeyError:
        fdp = descriptor_pb2.FileDescriptorProto(name=_FILE, package=PACKAGE, syntax="proto3")
        msg = fdp.message_type.add(name="PubKey")
        msg.field.add(
            name="key",
            number=1,
            json_name="key",
            type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
        fd = pool.AddSerializedFile(fdp.SerializeToString())
    return message_factory.GetMessageClass(fd.message_types_by_name["PubKey"])


PubKey = _message_class()
