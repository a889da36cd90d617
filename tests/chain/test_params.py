"""chain/params.py: every module's params read from JSON and stored the same way."""

from __future__ import annotations

import json

import pytest

from chain.errors import ChainError
from modules.auth.msgs import MsgUpdateParams
from modules.jobs.params import Params as JobsParams
from modules.mint import keys as mint_keys
from modules.mint.params import Params as MintParams
from tests.support.chain import PLATFORM, Chain, assert_ok

MODULES = ("auth", "bank", "jobs", "mint", "reputation", "slashing", "staking", "verification")


def _update(chain: Chain, module: str, params: dict[str, object]) -> bytes:
    msg = MsgUpdateParams(authority=PLATFORM.bech32, module=module, params_json=json.dumps(params))
    return chain.sign(PLATFORM, [msg])


@pytest.mark.parametrize("module", MODULES)
def test_an_unknown_field_is_refused_by_name_and_nothing_changes(chain: Chain, module: str) -> None:
    before = chain.app.custom_query(module, "params", {})
    r = chain.deliver_one(_update(chain, module, {"no_such_param": 1}))
    assert r.codespace == module and "invalid params" in r.log
    assert f"unknown {module} params: ['no_such_param']" in r.log
    assert chain.app.custom_query(module, "params", {}) == before


@pytest.mark.parametrize("module", MODULES)
def test_the_json_a_module_prints_is_the_json_it_takes_back(chain: Chain, module: str) -> None:
    shown = chain.app.custom_query(module, "params", {})
    assert_ok(chain.deliver_one(_update(chain, module, shown)))
    assert chain.app.custom_query(module, "params", {}) == shown


def test_amounts_printed_as_strings_are_stored_as_integers(chain: Chain) -> None:
    # mint prints avcn amounts as strings; the store keeps integers, so the app
    # hash does not depend on how a module prints its params
    assert_ok(chain.deliver_one(_update(chain, "mint", {"epoch_blocks": "100"})))
    assert chain.app.custom_query("mint", "params", {})["epoch_blocks"] == "100"
    raw = chain.app.query("/store/mint/key", mint_keys.PARAMS, 0, False).value
    assert json.loads(raw)["epoch_blocks"] == 100


def test_strings_are_integers_only_where_the_module_prints_them() -> None:
    assert MintParams.from_json({"epoch_blocks": "7"}).epoch_blocks == 7
    with pytest.raises(ChainError, match="epoch_blocks must be an integer, got 'x'"):
        MintParams.from_json({"epoch_blocks": "x"})
    with pytest.raises(ChainError, match="burn_bps must be a non-negative integer, got '5'"):
        JobsParams.from_json({"burn_bps": "5"})
    assert JobsParams.from_json({"burn_bps": 5}) == JobsParams(burn_bps=5)
