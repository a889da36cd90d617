"""The Cosmos REST API (the gRPC-gateway routes cosmpy's LedgerClient calls)."""
