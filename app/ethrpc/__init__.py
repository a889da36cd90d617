"""The Ethereum JSON-RPC of the node (``:8545``): what wallets, web3.py and explorers ask.

    server.py     HTTP, JSON-RPC 2.0 envelopes, batches and limits
    ws.py         the same over a websocket (``:8546``), with eth_subscribe
    methods.py    the ``eth_*`` / ``net_*`` / ``web3_*`` methods
    blocks.py     Ethereum blocks, txs, receipts and logs from the block store
    logs.py       eth_getLogs over the block store's event index
    filters.py    polling filters (eth_newFilter, eth_getFilterChanges, …)
    trace.py      debug_traceTransaction / debug_traceBlockBy* (callTracer only)
    ots.py        Otterscan's ots_* (API level 8) and erigon_getHeaderByNumber
    proof.py      eth_getProof: this chain's store proofs in EIP-1186's shape
    hexio.py      parameters in, quantities and data out, JSON-RPC errors

Mapping (issue 14): block hash = the consensus block hash, ``stateRoot`` = the
app hash after the block, ``miner`` = the proposer; the Ethereum txs of a block
are its txs that the EVM ran (an ``ethereum_tx`` event), in block order; an
Ethereum tx hash is keccak of the signed tx; Cosmos-only txs are not shown.

Call traces: the node keeps no old state to run a tx again, so the EVM records
each tx's call frames as the block runs (modules/evm/tracing.py, set up by
app/node.py) into a store of their own, ``data/evm_traces``, off consensus: the
frames of the last ``jsonrpc_trace_blocks`` blocks (a block's written in one
batch) and the creator of each contract made since. trace.py and ots.py read it.
"""
