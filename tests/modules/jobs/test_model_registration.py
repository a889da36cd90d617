"""Bring your own model: any account registers a model by paying the jobs params'
``model_registration_fee``, within ``max_model_bytes`` and ``model_kinds``, under an
id that is free or already its own; the authority's ``MsgRegisterModel`` stays as it was.

Every threshold is tried at, just under and just over it, on an App driven block by
block (the CLI, the artifact upload and a real worker running such a model are in
``tests/modules/jobs/test_models_cli.py``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.coins import DENOM
from chain.crypto import PrivateKey, module_address
from chain.errors import ChainError
from compute.runtime.models import KIND_TASKS
from modules.auth.msgs import MsgUpdateParams
from modules.jobs import genesis as jobs_genesis
from modules.jobs.msgs import MsgPostJob, MsgRegisterModel, MsgRegisterOwnModel
from modules.jobs.params import MODEL_KIND_TASKS, Params
from modules.jobs.records import Model
from tests.support.chain import (
    ALICE,
    BOB,
    FEE,
    PLATFORM,
    Chain,
    assert_ok,
    events_of,
    make_genesis,
)

REG_FEE = 1_000_000  # avcn, this file's model_registration_fee
MAX_BYTES = 5_000  # this file's max_model_bytes
BURN_BPS = Params().burn_bps
WEIGHTS = hashlib.sha256(b"byom manifest").hexdigest()
CONFIG = hashlib.sha256(b"byom config").hexdigest()


def _genesis(**params: Any) -> dict[str, Any]:
    doc = make_genesis(16)
    p = doc["app_state"]["jobs"]["params"]
    p.update({"model_registration_fee": REG_FEE, "max_model_bytes": MAX_BYTES} | params)
    return doc


@pytest.fixture
def chain(make_app: Callable[..., App]) -> Chain:
    return Chain(make_app(_genesis()))


def own(
    key: PrivateKey,
    model_id: str = "my-lm",
    *,
    kind: str = "causal-lm",
    total_bytes: int = 1000,
    max_fee: int = REG_FEE,
    weights: str = WEIGHTS,
) -> MsgRegisterOwnModel:
    return MsgRegisterOwnModel(
        owner=key.bech32,
        model_id=model_id,
        kind=kind,
        weights_sha256=weights,
        config_sha256=CONFIG,
        total_bytes=total_bytes,
        min_gpu_memory_mib=2048,
        description="my own model",
        max_fee=str(max_fee),
    )


def register(chain: Chain, key: PrivateKey, **kw: Any) -> Any:
    return chain.deliver_one(chain.sign(key, [own(key, **kw)]))


def model(chain: Chain, model_id: str) -> dict[str, Any] | None:
    try:
        out: dict[str, Any] = chain.app.custom_query("jobs", "model", {"id": model_id})
    except Exception:  # noqa: BLE001 - not found
        return None
    return out


def supply(chain: Chain) -> int:
    return chain.app.bank.supply(chain.app.query_ctx(), DENOM)


def treasury(chain: Chain) -> int:
    return chain.balance(module_address("treasury"))


def test_an_account_registers_its_model_and_pays_the_fee_burned_and_to_the_treasury(
    chain: Chain,
) -> None:
    before, sup, tre = chain.balance(ALICE), supply(chain), treasury(chain)
    # offering more than the fee pays the fee, not the offer
    r = assert_ok(register(chain, ALICE, max_fee=REG_FEE + 1))
    burned = REG_FEE * BURN_BPS // 10_000
    assert chain.balance(ALICE) == before - FEE - REG_FEE
    assert supply(chain) == sup - burned
    assert treasury(chain) - tre == REG_FEE - burned
    (ev,) = events_of(r, "ModelRegistered")
    attrs = dict(ev.attributes)
    assert attrs["owner"] == ALICE.bech32 and attrs["fee"] == f"{REG_FEE}{DENOM}"
    assert attrs["burned"] == f"{burned}{DENOM}"
    assert attrs["to_treasury"] == f"{REG_FEE - burned}{DENOM}"
    assert attrs["kind"] == "causal-lm" and attrs["total_bytes"] == "1000"
    assert attrs["model"] == "my-lm" and attrs["weights_sha256"] == WEIGHTS
    m = model(chain, "my-lm")
    assert m is not None and m["owner"] == ALICE.bech32 and m["kind"] == "causal-lm"
    assert m["task_types"] == ["lora-train", "text-generation"]
    assert m["weights_sha256"] == WEIGHTS and m["total_bytes"] == "1000"
    assert m["config_sha256"] == CONFIG and m["description"] == "my own model"
    assert m["min_gpu_memory_mib"] == 2048
    assert m["registered_height"] == chain.height
    # and a job can be posted on it at once
    post = MsgPostJob(
        poster=BOB.bech32,
        task_type="text-generation",
        model="my-lm",
        inline_input=b'{"prompts": ["hi"]}',
        max_price=str(10**18),
    )
    assert_ok(chain.deliver_one(chain.sign(BOB, [post])))


@pytest.mark.parametrize(("offer", "ok"), [(REG_FEE - 1, False), (REG_FEE, True)])
def test_max_fee_below_the_registration_fee_is_refused(chain: Chain, offer: int, ok: bool) -> None:
    before = chain.balance(ALICE)
    r = register(chain, ALICE, max_fee=offer)
    if ok:
        assert_ok(r)
        assert chain.balance(ALICE) == before - FEE - REG_FEE
        return
    assert (r.codespace, r.code) == ("jobs", 24), r.log
    assert f"costs {REG_FEE}avcn" in r.log and f"max_fee is {offer}avcn" in r.log
    assert model(chain, "my-lm") is None
    assert chain.balance(ALICE) == before - FEE  # only the tx fee


@pytest.mark.parametrize(("short", "ok"), [(1, False), (0, True)])
def test_a_balance_short_of_the_fee_is_refused(chain: Chain, short: int, ok: bool) -> None:
    poor = PrivateKey.from_seed(b"byom-poor")
    # enough for the registration's tx fee and the registration fee, less `short`
    assert_ok(chain.deliver_one(chain.send(ALICE, poor, FEE + REG_FEE - short)))
    r = register(chain, poor)
    if ok:
        assert_ok(r)
        assert chain.balance(poor) == 0
        return
    assert (r.codespace, r.code) == ("sdk", 5), r.log
    assert f"has {REG_FEE - 1}avcn" in r.log
    assert model(chain, "my-lm") is None
    assert chain.balance(poor) == REG_FEE - 1  # the tx fee was paid, nothing else moved


@pytest.mark.parametrize(
    ("size", "ok"), [(MAX_BYTES - 1, True), (MAX_BYTES, True), (MAX_BYTES + 1, False)]
)
def test_a_model_over_max_model_bytes_is_refused(chain: Chain, size: int, ok: bool) -> None:
    before = chain.balance(ALICE)
    r = register(chain, ALICE, total_bytes=size)
    if ok:
        assert_ok(r)
        assert model(chain, "my-lm") is not None
        return
    assert (r.codespace, r.code) == ("jobs", 25), r.log
    assert f"{size} bytes; max_model_bytes is {MAX_BYTES}" in r.log
    assert model(chain, "my-lm") is None and chain.balance(ALICE) == before - FEE


def test_zero_bytes_and_unknown_kinds_are_refused_before_any_fee(chain: Chain) -> None:
    before = chain.balance(ALICE)
    for bad in (own(ALICE, total_bytes=0), own(ALICE, kind="diffusion")):
        r = chain.check(chain.sign(ALICE, [bad], count=False))
        assert (r.codespace, r.code) == ("jobs", 20), r.log
    assert chain.balance(ALICE) == before


def test_only_the_params_model_kinds_may_be_registered(make_app: Callable[..., App]) -> None:
    chain = Chain(make_app(_genesis(model_kinds=["causal-lm"])))
    r = register(chain, ALICE, model_id="emb", kind="sentence-embedding")
    assert (r.codespace, r.code) == ("jobs", 20) and "not 'sentence-embedding'" in r.log
    assert model(chain, "emb") is None
    assert_ok(register(chain, ALICE, model_id="lm", kind="causal-lm"))
    # the authority widens the list; then it goes through
    widen = MsgUpdateParams(
        authority=PLATFORM.bech32,
        module="jobs",
        params_json=json.dumps({"model_kinds": ["causal-lm", "sentence-embedding"]}),
    )
    assert_ok(chain.deliver_one(chain.sign(PLATFORM, [widen])))
    assert_ok(register(chain, ALICE, model_id="emb", kind="sentence-embedding"))
    assert model(chain, "emb")["task_types"] == ["embedding"]  # type: ignore[index]


def test_an_id_is_its_owners_and_nobody_elses(chain: Chain) -> None:
    assert_ok(register(chain, BOB, model_id="bobs-lm"))
    first = model(chain, "bobs-lm")
    before = chain.balance(ALICE)
    other = hashlib.sha256(b"alice's weights").hexdigest()
    r = register(chain, ALICE, model_id="bobs-lm", weights=other)
    assert (r.codespace, r.code) == ("jobs", 23), r.log
    assert f"belongs to {BOB.bech32}" in r.log
    assert model(chain, "bobs-lm") == first and chain.balance(ALICE) == before - FEE
    # nor a model of the platform (a genesis one)
    r = register(chain, ALICE, model_id="tiny-lm", weights=other)
    assert (r.codespace, r.code) == ("jobs", 23) and "belongs to the platform" in r.log
    assert model(chain, "tiny-lm")["weights_sha256"] != other  # type: ignore[index]
    # the owner updates its own (paying again), keeping its registration height
    bob_before = chain.balance(BOB)
    new = hashlib.sha256(b"bob's v2").hexdigest()
    assert_ok(register(chain, BOB, model_id="bobs-lm", weights=new))
    again = model(chain, "bobs-lm")
    assert again is not None and first is not None
    assert again["weights_sha256"] == new
    assert again["registered_height"] == first["registered_height"]
    assert chain.balance(BOB) == bob_before - FEE - REG_FEE


def test_the_authority_keeps_registering_for_free(chain: Chain) -> None:
    before = chain.balance(PLATFORM)
    msg = MsgRegisterModel(
        authority=PLATFORM.bech32,
        model_id="platform-lm",
        task_types=["text-generation"],
        weights_sha256=WEIGHTS,
        config_sha256=CONFIG,
    )
    assert_ok(chain.deliver_one(chain.sign(PLATFORM, [msg])))
    assert chain.balance(PLATFORM) == before - FEE
    m = model(chain, "platform-lm")
    assert m is not None and "owner" not in m and "kind" not in m
    # an account's MsgRegisterModel is still refused
    msg.authority = ALICE.bech32
    r = chain.deliver_one(chain.sign(ALICE, [msg]))
    assert (r.codespace, r.code) == ("jobs", 3)


def test_an_owned_model_survives_genesis_export_and_import(
    chain: Chain, make_app: Callable[..., App]
) -> None:
    assert_ok(register(chain, ALICE))
    doc = _genesis()
    doc["app_state"] = chain.app.export_genesis()
    (m,) = [m for m in doc["app_state"]["jobs"]["models"] if m["id"] == "my-lm"]
    assert m["owner"] == ALICE.address.hex() and m["kind"] == "causal-lm"
    jobs_genesis.validate(doc["app_state"]["jobs"])
    again = make_app(doc)
    assert again.export_genesis()["jobs"] == doc["app_state"]["jobs"]
    # a document with a bad owner or kind is refused by name
    for field, value in (("owner", "abcd"), ("kind", "diffusion")):
        bad = copy.deepcopy(doc["app_state"]["jobs"])
        next(x for x in bad["models"] if x["id"] == "my-lm")[field] = value
        with pytest.raises(ChainError, match=f"model my-lm: .*{field}"):
            jobs_genesis.validate(bad)


def test_a_platform_record_encodes_as_before_owner_kind_and_size_existed() -> None:
    m = Model("x", ("embedding",), b"\1" * 32, b"\2" * 32, 0, 5, "d")
    assert set(json.loads(m.encode())) == {
        "id",
        "task_types",
        "weights_sha256",
        "config_sha256",
        "min_gpu_memory_mib",
        "registered_height",
        "description",
    }
    owned = Model("x", ("embedding",), b"\1" * 32, b"\2" * 32, 0, 5, "d", b"\3" * 20, "k", 9)
    assert Model.decode(owned.encode()) == owned


def test_the_chains_kinds_are_the_runtimes() -> None:
    assert {k: tuple(sorted(v)) for k, v in KIND_TASKS.items()} == MODEL_KIND_TASKS


@pytest.mark.parametrize(
    "bad", [["diffusion"], "causal-lm", ["causal-lm", "causal-lm"], [1], {"causal-lm": 1}]
)
def test_bad_model_kinds_params_are_refused(bad: object) -> None:
    with pytest.raises(ChainError, match="model_kinds"):
        Params.from_json({"model_kinds": bad})


def test_the_devnet_charges_10_vcn() -> None:
    doc = make_genesis()
    p = Params.from_json(doc["app_state"]["jobs"]["params"])
    assert p.model_registration_fee == 10 * 10**18
    assert Params().model_registration_fee == 100 * 10**18
    assert Params().model_kinds == tuple(sorted(MODEL_KIND_TASKS))
