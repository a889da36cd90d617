"""The Ethereum JSON-RPC of the node (``:8545``): what wallets, web3.py and explorers ask.

    server.py     HTTP, JSON-RPC 2.0 envelopes, batches and limits
    methods.py    the ``eth_*`` / ``net_*`` / ``web3_*`` methods
    blocks.py     Ethereum blocks, txs, receipts and logs from the block store
    logs.py       eth_getLogs over the block store's event index
    filters.py    polling filters (eth_newFilter, eth_getFilterChanges, …)
    hexio.py      parameters in, quantities and data out, JSON-RPC errors

Mapping (issue 14): block hash = the consensus block hash, ``stateRoot`` = the
app hash after the block, ``miner`` = the proposer; the Ethereum txs of a block
are its txs that the EVM ran (an ``ethereum_tx`` event), in block order; an
Ethereum tx hash is keccak of the signed tx; Cosmos-only txs are not shown.
"""
