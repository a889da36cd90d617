"""vcoin-gateway: the user API beside a node (wallet sign-in, JWT, API keys, OpenAI routes).

Layering: ``gateway`` imports ``chain`` (the node client, addresses, secp256k1) and
nothing of ``app`` or ``modules``; it reads the chain only through a node's RPC
(``abci_query``), like the worker and the oracle. Modules: ``config`` (settings),
``signin`` (EIP-4361 and ADR-036), ``jwt`` (HS256, stdlib), ``store`` (SQLite or
PostgreSQL), ``ratelimit`` (token buckets), ``auth`` (challenge, login, keys),
``app`` (the FastAPI routes), ``cli``.
"""
