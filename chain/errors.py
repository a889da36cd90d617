"""Registered errors: every refusal carries a codespace and a stable code.

Clients act on (codespace, code); the message says what to do. Codes in the
``sdk`` codespace follow the Cosmos SDK's numbering so that wallets that know
Cosmos errors read ours the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

_REGISTRY: dict[tuple[str, int], str] = {}


@dataclass(frozen=True)
class ErrorCode:
    codespace: str
    code: int
    name: str

    def __call__(self, message: str) -> ChainError:
        return ChainError(self, message)


def register(codespace: str, code: int, name: str) -> ErrorCode:
    """Register a (codespace, code) pair once; a clash is a programming error."""
    if code <= 1:
        raise ValueError("codes 0 and 1 are reserved (ok and internal)")
    key = (codespace, code)
    if key in _REGISTRY and _REGISTRY[key] != name:
        raise ValueError(f"error code {codespace}/{code} already registered as {_REGISTRY[key]}")
    _REGISTRY[key] = name
    return ErrorCode(codespace, code, name)


def registered() -> dict[tuple[str, int], str]:
    return dict(_REGISTRY)


class ChainError(Exception):
    """A refusal a client can act on: codespace, code and a message."""

    def __init__(self, kind: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def codespace(self) -> str:
        return self.kind.codespace

    @property
    def code(self) -> int:
        return self.kind.code

    def log(self) -> str:
        return f"{self.kind.name}: {self.message}"


SDK = "sdk"
ErrTxDecode = register(SDK, 2, "tx parse error")
ErrInvalidSequence = register(SDK, 3, "invalid sequence")
ErrUnauthorized = register(SDK, 4, "unauthorized")
ErrInsufficientFunds = register(SDK, 5, "insufficient funds")
ErrUnknownRequest = register(SDK, 6, "unknown request")
ErrInvalidAddress = register(SDK, 7, "invalid address")
ErrInvalidPubKey = register(SDK, 8, "invalid pubkey")
ErrUnknownAddress = register(SDK, 9, "unknown address")
ErrInvalidCoins = register(SDK, 10, "invalid coins")
ErrOutOfGas = register(SDK, 11, "out of gas")
ErrMemoTooLarge = register(SDK, 12, "memo too large")
ErrInsufficientFee = register(SDK, 13, "insufficient fee")
ErrTooManySignatures = register(SDK, 14, "maximum number of signatures exceeded")
ErrNoSignatures = register(SDK, 15, "no signatures supplied")
ErrInvalidRequest = register(SDK, 18, "invalid request")
ErrMempoolIsFull = register(SDK, 20, "mempool is full")
ErrTxTooLarge = register(SDK, 21, "tx too large")
ErrInvalidChainID = register(SDK, 28, "tx intended signer does not match the given signer")
ErrInvalidGasLimit = register(SDK, 41, "invalid gas limit")
ErrWrongSequence = register(SDK, 32, "incorrect account sequence")
ErrNotSupported = register(SDK, 37, "feature not supported")
ErrNotFound = register(SDK, 38, "not found")
ErrTxInMempool = register(SDK, 19, "tx already in mempool")
ErrTxTimeoutHeight = register(SDK, 30, "tx timeout height")
