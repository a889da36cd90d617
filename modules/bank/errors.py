"""Errors of the bank module (codespace ``bank``)."""

from chain.errors import register

CODESPACE = "bank"
ErrSendDisabled = register(CODESPACE, 2, "send disabled")
ErrBlockedAddress = register(CODESPACE, 3, "blocked address")
ErrNoPermission = register(CODESPACE, 4, "module account lacks permission")
ErrSupplyOverflow = register(CODESPACE, 5, "supply overflow")
ErrInvalidParams = register(CODESPACE, 6, "invalid params")
