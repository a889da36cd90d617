"""REST routes of the VCoin modules, in the Cosmos gRPC-gateway style (``/vcoin/<module>/v1/…``)."""
