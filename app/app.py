"""The VCoin application: the base app (``chain/baseapp.py``) running VCoin's
modules in wiring order (``app/wiring.py``) behind auth's ante handler."""

from __future__ import annotations

from pathlib import Path

from app import wiring
from chain.baseapp import BaseApp
from modules.auth.ante import AuthAnte
from modules.drip.ante import DripAnte
from modules.drip.keeper import DripKeeper


class App(BaseApp):
    def __init__(
        self, db_path: str | Path, any_format: bool = False, sig_verify_workers: int = 0
    ) -> None:
        """``any_format``: only to export the state of a database of an older layout.
        ``sig_verify_workers``: helper processes that check the signatures of a
        large block while it executes (chain/sigverify.py); the node uses 1."""
        self.wiring = wiring.build()
        self.accounts = self.wiring.accounts
        self.bank = self.wiring.bank
        super().__init__(
            db_path,
            self.wiring.modules,
            # a new key's drip claim is sponsored by the pool; every other tx: auth
            DripAnte(AuthAnte(self.bank), self._drip_keeper()),
            any_format=any_format,
            sig_verify_workers=sig_verify_workers,
        )

    def _drip_keeper(self) -> DripKeeper:
        keeper = self.wiring.keepers["drip"]
        assert isinstance(keeper, DripKeeper)
        return keeper
