"""Messages of the evm module, generated from proto/vcoin/evm/v1/tx.proto.

``MsgEthereumTx`` is only an envelope: it carries a signed Ethereum tx in a
Cosmos TxRaw (modules/evm/txs.py wraps and unwraps it); it has no signer of
its own and no route, as the Ethereum signature inside authorises it."""

from __future__ import annotations

from modules.evm import tx_pb2
from modules.evm.envelope import ETH_TX_URL, unwrap, wrap

MsgEthereumTx = tx_pb2.MsgEthereumTx

__all__ = ["ETH_TX_URL", "MsgEthereumTx", "unwrap", "wrap"]
