"""The software version the node reports (ABCI Info, RPC status, REST node info)."""

VERSION = "0.1.0"
