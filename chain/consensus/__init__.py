"""Consensus drivers: solo (in-process, the default) and, later, CometBFT over ABCI."""
