"""The CometBFT driver: an ABCI socket server that only translates protobuf."""
