"""Node, consensus and gas answers of the REST API, as the SDK's proto messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cosmpy.protos.cosmos.base.abci.v1beta1.abci_pb2 import GasInfo, Result
from cosmpy.protos.cosmos.base.node.v1beta1 import query_pb2 as node_q
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2 as tm_q
from cosmpy.protos.cosmos.consensus.v1 import query_pb2 as consensus_q
from cosmpy.protos.tendermint.p2p import types_pb2 as p2p
from cosmpy.protos.tendermint.types import params_pb2
from google.protobuf.duration_pb2 import Duration

from chain.coins import DENOM
from chain.consensus.solo import PROPOSER
from chain.rest.encode import events, to_json
from chain.rpc import encode as rpc_enc
from chain.version import VERSION

if TYPE_CHECKING:
    from chain.nodeview import NodeView

# The Cosmos SDK release whose REST API this node speaks; clients parse it as a version.
SDK_API_VERSION = "v0.50.0"


def node_info(node: NodeView) -> dict[str, Any]:
    resp = tm_q.GetNodeInfoResponse(
        default_node_info=p2p.DefaultNodeInfo(
            protocol_version=p2p.ProtocolVersion(
                p2p=int(rpc_enc.P2P_PROTOCOL), block=int(rpc_enc.BLOCK_PROTOCOL), app=1
            ),
            default_node_id=PROPOSER.hex(),
            listen_addr="",
            network=node.chain_id,
            version=rpc_enc.RPC_VERSION,
            moniker="vcoin-solo",
            other=p2p.DefaultNodeInfoOther(
                tx_index="on", rpc_address=f"tcp://{node.cfg.rpc_laddr}"
            ),
        ),
        application_version=tm_q.VersionInfo(
            name="vcoin",
            app_name="vcoind",
            version=VERSION,
            cosmos_sdk_version=SDK_API_VERSION,
        ),
    )
    return to_json(resp)


def consensus_params(genesis: dict[str, Any]) -> dict[str, Any]:
    cp = genesis.get("consensus_params") or {}
    block = cp.get("block") or {}
    ev = cp.get("evidence") or {}
    age_ns = int(ev.get("max_age_duration", 172_800_000_000_000))
    params = params_pb2.ConsensusParams(
        block=params_pb2.BlockParams(
            max_bytes=int(block.get("max_bytes", 4 << 20)), max_gas=int(block.get("max_gas", -1))
        ),
        evidence=params_pb2.EvidenceParams(
            max_age_num_blocks=int(ev.get("max_age_num_blocks", 100_000)),
            max_age_duration=Duration(
                seconds=age_ns // 1_000_000_000, nanos=age_ns % 1_000_000_000
            ),
            max_bytes=int(ev.get("max_bytes", 1 << 20)),
        ),
        validator=params_pb2.ValidatorParams(
            pub_key_types=list((cp.get("validator") or {}).get("pub_key_types", ["ed25519"]))
        ),
        version=params_pb2.VersionParams(app=int((cp.get("version") or {}).get("app", 1))),
        abci=params_pb2.ABCIParams(),
    )
    return to_json(consensus_q.QueryParamsResponse(params=params))


def node_config(auth_params: dict[str, Any]) -> dict[str, Any]:
    price = int(auth_params["min_gas_price"])
    return to_json(node_q.ConfigResponse(minimum_gas_price=f"{price}.000000000000000000{DENOM}"))


def gas_info(wanted: int, used: int) -> GasInfo:
    return GasInfo(gas_wanted=wanted, gas_used=used)


def abci_result(r: dict[str, Any]) -> Result:
    return Result(data=r.get("data") or b"", log=r.get("log") or "", events=events(r["events"]))
