"""Helpers over protobuf message classes.

VCoin's own messages are defined in ``proto/vcoin/<module>/v1/*.proto`` and
generated into ``modules/<module>/*_pb2.py`` by ``scripts/protogen``; Cosmos'
types come from cosmpy.
"""

from __future__ import annotations

from google.protobuf.message import Message


def type_url(cls: type[Message]) -> str:
    """The ``Any`` type URL of a message class, e.g. ``/vcoin.jobs.v1.MsgPostJob``."""
    return "/" + cls.DESCRIPTOR.full_name
