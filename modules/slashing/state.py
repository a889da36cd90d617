"""The only code that touches the slashing store: its params (the rest of what
slashing decides lives in staking and reputation)."""

from __future__ import annotations

from chain.params import ParamsStore
from modules.slashing import keys
from modules.slashing.keys import NAME
from modules.slashing.params import Params

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set
