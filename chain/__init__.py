"""VCoin node: the state machine, its store, transactions and consensus drivers."""
