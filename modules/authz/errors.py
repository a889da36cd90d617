"""Errors of the authz module (codespace ``authz``)."""

from chain.errors import register

CODESPACE = "authz"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 3, "invalid genesis")
ErrInvalidGrant = register(CODESPACE, 4, "invalid grant")
ErrNotGrantable = register(CODESPACE, 5, "message type is not grantable")
ErrNoGrant = register(CODESPACE, 6, "no grant")
ErrGrantExpired = register(CODESPACE, 7, "grant expired")
ErrSpendLimit = register(CODESPACE, 8, "spend limit exceeded")
ErrTooManyMsgs = register(CODESPACE, 9, "too many messages in one exec")
ErrInvalidExec = register(CODESPACE, 10, "invalid exec")
