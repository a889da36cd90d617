"""What the SDK raises. Every error is a ``VCoinError``; input errors carry a ``kind``
(the names of ``sdk/vectors``' bad inputs), chain refusals their codespace and code."""

from __future__ import annotations

from typing import Any


class VCoinError(Exception):
    """The base of every error the SDK raises."""


class InputError(VCoinError, ValueError):
    """A value given to the SDK is malformed; ``kind`` names what is wrong."""

    kind = "bad_input"

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class InvalidMnemonic(InputError):
    kind = "bad_mnemonic"


class InvalidAddress(InputError):
    kind = "bad_address"


class InvalidAmount(InputError):
    kind = "bad_amount"


class NodeUnavailable(VCoinError):
    """The node did not answer (refused, timed out) after the client's bounded retries."""


class NodeError(VCoinError):
    """The node answered, but not with what was asked (an HTTP or JSON-RPC error)."""

    def __init__(self, message: str, status: int = 0, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.data = data


class ChainError(VCoinError):
    """The chain refused a query or a tx: its codespace, code and log."""

    def __init__(self, codespace: str, code: int, log: str, tx_hash: str = "") -> None:
        where = f"{codespace}/{code}" if codespace else f"code {code}"
        super().__init__(f"{where}: {log}" + (f" (tx {tx_hash})" if tx_hash else ""))
        self.codespace = codespace
        self.code = code
        self.log = log
        self.tx_hash = tx_hash


class QueryError(ChainError):
    pass


class TxError(ChainError):
    """A tx refused at CheckTx (``stage="check"``: nothing happened) or failed in its
    block (``stage="deliver"``: the fee was paid, the sequence used)."""

    def __init__(
        self, codespace: str, code: int, log: str, tx_hash: str = "", stage: str = "check"
    ) -> None:
        super().__init__(codespace, code, log, tx_hash)
        self.stage = stage


class NotFound(VCoinError):
    """What was asked for does not exist (an account never funded, an unknown job)."""


class WaitTimeout(VCoinError, TimeoutError):
    """A wait (a tx's inclusion, a job's result) ran past its timeout."""


class IntegrityError(VCoinError):
    """Fetched bytes do not hash to what the chain recorded."""
