"""Errors of the evm module (codespace ``evm``)."""

from chain.errors import register

CODESPACE = "evm"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 3, "invalid genesis")
# refused before execution: nothing changes, no fee, no nonce used
ErrEthTxDecode = register(CODESPACE, 4, "malformed Ethereum transaction")
ErrEthChainId = register(CODESPACE, 5, "wrong chain id")
ErrEthNonce = register(CODESPACE, 6, "invalid nonce")
ErrEthFee = register(CODESPACE, 7, "fee too low")
ErrEthGas = register(CODESPACE, 8, "invalid gas limit")
ErrEthFunds = register(CODESPACE, 9, "insufficient funds for gas and value")
ErrEthInvalid = register(CODESPACE, 10, "invalid Ethereum transaction")
# ran and failed: the gas is paid and the nonce used, everything else undone
ErrExecutionReverted = register(CODESPACE, 11, "execution reverted")
ErrExecutionFailed = register(CODESPACE, 12, "execution failed")
ErrNotFound = register(CODESPACE, 13, "not found")
