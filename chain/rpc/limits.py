"""What one client may ask of the RPC server; the ``rpc_*`` settings of the node config."""

from __future__ import annotations

from dataclasses import dataclass

from chain.config import NodeConfig


@dataclass(frozen=True)
class RpcLimits:
    max_body_bytes: int
    max_batch_requests: int
    max_response_bytes: int
    ws_max_message_bytes: int
    max_subscriptions_per_client: int
    max_subscription_clients: int

    @classmethod
    def from_config(cls, cfg: NodeConfig | None = None) -> RpcLimits:
        """The node's limits; the documented defaults without a config."""
        c = cfg or NodeConfig()
        return cls(
            max_body_bytes=c.rpc_max_body_bytes,
            max_batch_requests=c.rpc_max_batch_requests,
            max_response_bytes=c.rpc_max_response_bytes,
            ws_max_message_bytes=c.rpc_ws_max_message_bytes,
            max_subscriptions_per_client=c.rpc_max_subscriptions_per_client,
            max_subscription_clients=c.rpc_max_subscription_clients,
        )
