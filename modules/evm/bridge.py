"""What the precompiles reach of the native modules (wired in app/wiring.py); light,
so that the wiring does not import py-evm."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chain.context import Ctx
from chain.module import MsgSpec
from modules.evm.expected import BankKeeper, SlashingKeeper, StakingKeeper


@dataclass
class Bridge:
    """What the precompiles reach: keepers, the native message routes and the
    jobs module's reads (wired in app/wiring.py)."""

    bank: BankKeeper
    staking: StakingKeeper
    slashing: SlashingKeeper
    routes: Mapping[str, MsgSpec]
    authority: Callable[[Ctx], str]
    get_job: Callable[[Ctx, int], Any]
    burn_bps: Callable[[Ctx], int]
    platform_mint: Callable[[Ctx, bytes, int], None]
