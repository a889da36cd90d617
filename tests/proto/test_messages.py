"""VCoin's messages come from proto/ and keep the wire format chains already hold.

The golden bytes were made by the classes that chain/proto.py declared in
Python before the .proto files existed (commit 79a61fc), every field set: a
changed field number, type or name of a package would change them, and old
blocks and wallets would no longer decode.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

import modules.auth.msgs
import modules.authz.msgs
import modules.drip.msgs
import modules.evm.msgs
import modules.jobs.msgs
import modules.reputation.msgs
import modules.staking.msgs
import modules.training.msgs
import modules.verification.msgs  # noqa: F401  (each registers its messages)

REPO = Path(__file__).resolve().parents[2]

# ruff: noqa: E501  (golden hex, one message a line)
GOLDEN = {
    "/vcoin.jobs.v1.MsgPostJob": "0a08706f737465722d30120b7461736b5f747970652d311a076d6f64656c2d32220c696e7075745f686173682d332a030505053206737065632d353a0b6d61785f70726963652d3640ef0748f00750f10758f20760f3076a0c6770755f6d6f64656c2d3132",
    "/vcoin.jobs.v1.MsgSubmitResult": "0a08776f726b65722d3010e9071a0d6f75747075745f686173682d32220e61727469666163745f7265662d3328ec0732400a0e696d6167655f6469676573742d30120c6d6f64656c5f686173682d311a0c696e7075745f686173682d32220d6f75747075745f686173682d332a03050505",
    "/vcoin.jobs.v1.MsgRegisterWorker": "0a08776f726b65722d30120b6770755f6d6f64656c2d3118ea0720eb072a01612a01623201613201623a0d70726963655f666c6f6f722d3640ef07",
    "/vcoin.jobs.v1.MsgRegisterModel": "0a0b617574686f726974792d30120a6d6f64656c5f69642d311a01611a01622210776569676874735f7368613235362d332a0f636f6e6669675f7368613235362d3430ed073a0d6465736372697074696f6e2d36",
    "/vcoin.jobs.v1.MsgReleaseJob": "0a08776f726b65722d3010e9071a08726561736f6e2d322001",
    "/vcoin.jobs.v1.MsgCancelJob": "0a08706f737465722d3010e907",
    "/vcoin.jobs.v1.MsgClaimJob": "0a08776f726b65722d3010e907",
    # consensus_pubkey (field 5, the trailing "2a03050505") came later, appended:
    # the bytes before it are the earlier golden, so older bonds still decode
    "/vcoin.staking.v1.MsgBond": "0a09616464726573732d301206726f6c652d311a090a046176636e12013522030404042a03050505",
    "/vcoin.staking.v1.MsgUnbond": "0a09616464726573732d301206726f6c652d311a090a046176636e120135",
    "/vcoin.staking.v1.MsgUnjail": "0a09616464726573732d301206726f6c652d31",
    "/vcoin.verification.v1.MsgAttest": "0a086f7261636c652d3010e9071a09766572646963742d3220eb072a0f65766964656e63655f686173682d343203060606",
    "/vcoin.verification.v1.MsgCommitCanary": "0a086f7261636c652d30120c636f6d6d69746d656e742d31",
    # controller_signature (field 6, the trailing "3203060606") came later, appended:
    # the bytes before it are the earlier golden, so older reveals still decode
    "/vcoin.verification.v1.MsgRevealCanary": "0a086f7261636c652d3010e9071a1665787065637465645f6f75747075745f686173682d32220673616c742d3328013203060606",
    "/vcoin.auth.v1.MsgUpdateParams": "0a0b617574686f726974792d3012086d6f64756c652d311a0d706172616d735f6a736f6e2d32",
    "/vcoin.reputation.v1.MsgHeartbeat": "0a09616464726573732d30",
    # added after the proto files, pinned as first released
    "/vcoin.drip.v1.MsgFundPool": "0a0b6465706f7369746f722d301208616d6f756e742d31",
    "/vcoin.drip.v1.MsgClaimDrip": "0a0b726563697069656e742d30",
    "/vcoin.authz.v1.MsgGrant": "0a096772616e7465722d3012096772616e7465652d311a0e6d73675f747970655f75726c2d3222090a046176636e12013528ec07",
    "/vcoin.authz.v1.MsgRevoke": "0a096772616e7465722d3012096772616e7465652d311a0e6d73675f747970655f75726c2d32",
    "/vcoin.authz.v1.MsgExec": "0a096772616e7465652d3012110a0a747970655f75726c2d301203020202",
    "/vcoin.evm.v1.MsgEthereumTx": "0a03010101",
    "/vcoin.jobs.v1.MsgRegisterOwnModel": "0a076f776e65722d30120a6d6f64656c5f69642d311a066b696e642d322210776569676874735f7368613235362d332a0f636f6e6669675f7368613235362d3430ed0738ee07420d6465736372697074696f6e2d374a096d61785f6665652d38",
    "/vcoin.training.v1.MsgPostTraining": "0a08706f737465722d3012076d6f64656c2d311a09646174617365742d32220a6d616e69666573742d3328ec0730ed0738ee0740ef0748f00750f1075a01615a016260f30768f40770f50778f60782010e6167677265676174696f6e2d31358a011270726963655f7065725f73686172642d31369201126167677265676174655f70726963652d31379801fa07",
    "/vcoin.training.v1.MsgCancelTraining": "0a08706f737465722d3010e907",
}  # fmt: skip


def _message_class(url: str) -> type[Message]:
    desc = descriptor_pool.Default().FindMessageTypeByName(url.lstrip("/"))
    return message_factory.GetMessageClass(desc)


def _every_field_set(cls: type[Message]) -> Message:
    """Each field set to a value derived from its name and position."""
    m = cls()
    for i, f in enumerate(cls.DESCRIPTOR.fields):
        if f.message_type is not None:
            sub = Coin(denom="avcn", amount="5") if f.message_type.name == "Coin" else None
            if sub is None:
                sub = _every_field_set(message_factory.GetMessageClass(f.message_type))
            if f.label == FieldDescriptor.LABEL_REPEATED:  # MsgExec's msgs
                getattr(m, f.name).add().CopyFrom(sub)
            else:
                getattr(m, f.name).CopyFrom(sub)
        elif f.label == FieldDescriptor.LABEL_REPEATED:
            getattr(m, f.name).extend(["a", "b"])
        elif f.type == FieldDescriptor.TYPE_STRING:
            setattr(m, f.name, f"{f.name}-{i}")
        elif f.type == FieldDescriptor.TYPE_BYTES:
            setattr(m, f.name, bytes([i + 1]) * 3)
        elif f.type == FieldDescriptor.TYPE_BOOL:
            setattr(m, f.name, True)
        else:
            setattr(m, f.name, 1000 + i)
    return m


@pytest.mark.parametrize("url", sorted(GOLDEN))
def test_messages_encode_as_before_the_proto_files(url: str) -> None:
    cls = _message_class(url)
    assert _every_field_set(cls).SerializeToString().hex() == GOLDEN[url]
    decoded = cls.FromString(bytes.fromhex(GOLDEN[url]))
    assert decoded == _every_field_set(cls)


def test_every_message_of_proto_is_a_module_message() -> None:
    """Each message in proto/ is registered under its type URL, and no other."""
    declared = set()
    for path in sorted((REPO / "proto").rglob("*.proto")):
        package = next(
            line.split()[1].rstrip(";")
            for line in path.read_text().splitlines()
            if line.startswith("package ")
        )
        file_desc = descriptor_pool.Default().FindFileByName(
            path.relative_to(REPO / "proto").as_posix()
        )
        assert file_desc.package == package
        declared |= {f"/{package}.{name}" for name in file_desc.message_types_by_name}
    msgs = {url for url in declared if url.rsplit(".", 1)[1].startswith("Msg")}
    assert msgs == set(GOLDEN)


def test_generated_code_matches_the_proto_files() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "protogen.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
