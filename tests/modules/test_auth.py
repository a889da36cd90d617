"""auth: accounts, numbers, public keys, module accounts and MsgUpdateParams."""

from __future__ import annotations

import json

import pytest

from app.app import App
from chain.crypto import PrivateKey, module_address, to_bech32
from chain.errors import ChainError
from modules.auth import genesis as auth_genesis
from modules.auth.msgs import MsgUpdateParams
from modules.auth.params import DEFAULT_AUTHORITY
from tests.support.chain import ALICE, BOB, PLATFORM, Chain, assert_ok, events_of, make_genesis


def _params(app: App, module: str = "auth") -> dict[str, object]:
    out: dict[str, object] = app.custom_query(module, "params", {})
    return out


def _update(chain: Chain, signer: PrivateKey, module: str, params: dict[str, object]) -> bytes:
    msg = MsgUpdateParams(
        authority=signer.bech32, module=module, params_json=json.dumps(params, sort_keys=True)
    )
    return chain.sign(signer, [msg])


def test_authority_changes_params_and_the_change_takes_effect(chain: Chain) -> None:
    long_memo = "m" * 300
    refused = chain.check(chain.send(ALICE, BOB, 1, memo=long_memo, count=False))
    assert (refused.codespace, refused.code) == ("sdk", 12)

    new = dict(_params(chain.app), max_memo_characters=512)
    r = assert_ok(chain.deliver_one(_update(chain, PLATFORM, "auth", new)))
    [ev] = events_of(r, "params_updated")
    assert ev.get("module") == "auth" and ev.get("authority") == PLATFORM.bech32
    assert _params(chain.app) == new
    assert_ok(chain.deliver_one(chain.send(ALICE, BOB, 1, memo=long_memo)))


def test_anyone_else_is_refused(chain: Chain) -> None:
    before = _params(chain.app)
    for attempt in (dict(before, max_memo_characters=1), dict(before, authority=ALICE.bech32)):
        tx = _update(chain, ALICE, "auth", attempt)
        r = chain.check(tx)
        assert (r.codespace, r.code) == ("auth", 3), r.log
        assert PLATFORM.bech32 in r.log  # says who may
        r = chain.deliver_one(tx)
        assert (r.codespace, r.code) == ("auth", 3), r.log
        assert _params(chain.app) == before


def test_partial_update_keeps_the_other_params(chain: Chain) -> None:
    # only the named field changes; above all the authority is not lost
    assert_ok(chain.deliver_one(_update(chain, PLATFORM, "auth", {"max_memo_characters": 100})))
    p = _params(chain.app)
    assert p["max_memo_characters"] == 100
    assert p["authority"] == PLATFORM.bech32 != DEFAULT_AUTHORITY
    assert p["min_gas_price"] == 1_000_000_000
    assert_ok(chain.deliver_one(_update(chain, PLATFORM, "auth", {"max_memo_characters": 200})))


def test_authority_can_hand_over(chain: Chain) -> None:
    assert_ok(chain.deliver_one(_update(chain, PLATFORM, "auth", {"authority": ALICE.bech32})))
    r = chain.deliver_one(_update(chain, PLATFORM, "auth", {"max_memo_characters": 7}))
    assert (r.codespace, r.code) == ("auth", 3)
    assert_ok(chain.deliver_one(_update(chain, ALICE, "auth", {"max_memo_characters": 7})))


@pytest.mark.parametrize(
    ("module", "params", "code", "says"),
    [
        ("auth", {"max_tx_bytes": 10}, ("auth", 4), "max_tx_bytes"),
        ("auth", {"min_gas_price": -1}, ("auth", 4), "non-negative"),
        ("auth", {"authority": "vcoin1nope"}, ("auth", 4), "authority"),
        ("auth", {"no_such_param": 1}, ("auth", 4), "no_such_param"),
        ("bank", {"send_enabled": "yes"}, ("bank", 6), "true or false"),
        ("nomodule", {}, ("auth", 5), "nomodule"),
    ],
)
def test_bad_params_are_refused_and_change_nothing(
    chain: Chain, module: str, params: dict[str, object], code: tuple[str, int], says: str
) -> None:
    before = (_params(chain.app), _params(chain.app, "bank"))
    r = chain.deliver_one(_update(chain, PLATFORM, module, params))
    assert (r.codespace, r.code) == code, r.log
    assert says in r.log
    assert (_params(chain.app), _params(chain.app, "bank")) == before


def test_params_json_must_be_an_object(chain: Chain) -> None:
    for text in ("[1, 2]", "not json"):
        msg = MsgUpdateParams(authority=PLATFORM.bech32, module="auth", params_json=text)
        r = chain.check(chain.sign(PLATFORM, [msg], count=False))
        assert (r.codespace, r.code) == ("sdk", 18), r.log


def test_new_account_gets_the_next_number_and_its_key_on_first_tx(chain: Chain) -> None:
    newbie = PrivateKey.from_seed(b"auth newbie")
    top = int(chain.app.export_genesis()["auth"]["next_account_number"])
    assert_ok(chain.deliver_one(chain.send(ALICE, newbie, 10**18)))
    acc = chain.app.custom_query("auth", "account", {"address": newbie.bech32})
    assert acc == {
        "address": newbie.bech32,
        "account_number": str(top),
        "sequence": "0",
        "pub_key": None,
    }
    assert_ok(chain.deliver_one(chain.send(newbie, BOB, 1)))
    acc = chain.app.custom_query("auth", "account", {"address": newbie.bech32})
    assert acc["sequence"] == "1" and acc["pub_key"] == newbie.public_key.hex()


def test_account_queries(chain: Chain) -> None:
    with pytest.raises(ChainError) as e:
        chain.app.custom_query("auth", "account", {"address": PrivateKey.from_seed(b"x").bech32})
    assert (e.value.codespace, e.value.code) == ("sdk", 38)
    with pytest.raises(ChainError) as e:
        chain.app.custom_query("auth", "account", {"address": "cosmos1abc"})
    assert (e.value.codespace, e.value.code) == ("sdk", 7)
    for name, perms in auth_genesis.MODULE_ACCOUNTS.items():
        acc = chain.app.custom_query("auth", "module_account", {"name": name})
        assert acc["address"] == to_bech32(module_address(name))
        assert acc["name"] == name and acc["permissions"] == sorted(perms)
    with pytest.raises(ChainError):
        chain.app.custom_query("auth", "module_account", {"name": "nope"})


def test_module_account_cannot_sign(chain: Chain) -> None:
    # nobody holds a module account's key: a tx naming it as sender has no valid signer
    r = chain.check(
        chain.sign(ALICE, [_send_from(to_bech32(module_address("treasury")))], count=False)
    )
    assert (r.codespace, r.code) == ("sdk", 8), r.log


def _send_from(addr: str) -> object:
    from tests.support.chain import msg_send

    return msg_send(addr, BOB, 1)


def test_genesis_validation_refuses_duplicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    g = make_genesis()
    acct = {"address": ALICE.bech32, "account_number": "100"}
    g["app_state"]["auth"]["accounts"] = [acct, dict(acct, account_number="101")]
    app = App(tmp_path / "db")
    with pytest.raises(ChainError) as e:
        app.init_chain(g["chain_id"], g["app_state"])
    assert (e.value.codespace, e.value.code) == ("auth", 4)
    assert app.info().last_block_app_hash == b""  # nothing was committed
    app.close()


def test_key_on_chain_lets_later_txs_leave_it_out(chain: Chain) -> None:
    from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxRaw

    def without_key(raw: bytes, key: PrivateKey) -> bytes:
        tx = TxRaw.FromString(raw)
        auth = AuthInfo.FromString(tx.auth_info_bytes)
        auth.signer_infos[0].ClearField("public_key")
        ab = auth.SerializeToString()
        doc = SignDoc(
            body_bytes=tx.body_bytes,
            auth_info_bytes=ab,
            chain_id=chain.app.chain_id,
            account_number=chain.account_number(key),
        )
        signed = TxRaw(
            body_bytes=tx.body_bytes,
            auth_info_bytes=ab,
            signatures=[key.sign(doc.SerializeToString())],
        )
        return bytes(signed.SerializeToString())

    newbie = PrivateKey.from_seed(b"auth keyless")
    assert_ok(chain.deliver_one(chain.send(ALICE, newbie, 10**18)))
    first = without_key(chain.send(newbie, BOB, 1, count=False), newbie)
    r = chain.check(first)
    assert (r.codespace, r.code) == ("sdk", 8) and "include it in the tx" in r.log
    assert_ok(chain.deliver_one(chain.send(newbie, BOB, 1)))  # puts the key on chain
    assert_ok(chain.deliver_one(without_key(chain.send(newbie, BOB, 1), newbie)))
    assert chain.sequence(newbie) == 2
