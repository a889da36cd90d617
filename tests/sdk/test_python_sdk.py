"""The Python SDK (``sdk/python``) offline: the shared vectors byte for byte, bad input,
its generated protobuf code, its independence from the node's code, and a node that
is down (a clear error after bounded retries, never a hang)."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import vcoin_sdk
from google.protobuf.json_format import ParseDict
from vcoin_sdk import (
    AsyncClient,
    Client,
    EthKey,
    InputError,
    InvalidAddress,
    InvalidAmount,
    InvalidMnemonic,
    Key,
    NodeUnavailable,
    parse_address,
    parse_coins,
)
from vcoin_sdk.tx import decode_tx, sign_tx, verify

from tests.sdk.conftest import SDK_PYTHON

REPO = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((REPO / "sdk" / "vectors" / "vectors.json").read_text())
KEYS = {k["name"]: k for k in VECTORS["keys"]}
NODE_PACKAGES = {"chain", "modules", "app", "compute", "oracle", "worker", "genesis", "tests"}


def _message_class(type_url: str) -> Any:
    import vcoin_sdk.proto.jobs.tx_pb2 as jobs
    import vcoin_sdk.proto.reputation.tx_pb2 as reputation
    import vcoin_sdk.proto.staking.tx_pb2 as staking
    import vcoin_sdk.proto.verification.tx_pb2 as verification
    from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend

    name = type_url.rsplit(".", 1)[1]
    for mod in (jobs, reputation, staking, verification):
        if hasattr(mod, name) and type_url.startswith(f"/vcoin.{mod.__name__.split('.')[-2]}."):
            return getattr(mod, name)
    assert type_url == "/cosmos.bank.v1beta1.MsgSend", type_url
    return MsgSend


@pytest.mark.parametrize("name", sorted(KEYS))
def test_keys_match_the_vectors(name: str) -> None:
    k = KEYS[name]
    key = Key.from_mnemonic(k["mnemonic"])
    c = k["cosmos"]
    assert key.private_key.hex() == c["private_key"]
    assert key.public_key.hex() == c["public_key"]
    assert key.address_bytes.hex() == c["address_hex"]
    assert key.address == c["address"]
    assert key.eip55_address == c["address_eip55"]
    # both forms parse to the same account
    assert parse_address(c["address_eip55"]) == c["address"]
    assert parse_address(c["address_eip55"].lower()) == c["address"]
    assert vcoin_sdk.Address.parse(c["address"]).eip55 == c["address_eip55"]
    assert Key.from_hex(c["private_key"]).address == c["address"]
    e, ev = EthKey.from_mnemonic(k["mnemonic"]), k["ethereum"]
    assert ev["keys_only"] is False
    assert e.private_key.hex() == ev["private_key"]
    assert e.public_key.hex() == ev["public_key"]
    assert e.public_key_uncompressed.hex() == ev["public_key_uncompressed"]
    assert e.address_bytes.hex() == ev["address_hex"]
    assert e.eip55_address == ev["address_eip55"]
    assert e.address == ev["address"]


def test_amounts_match_the_vectors() -> None:
    for a in VECTORS["amounts"]:
        assert [c.to_json() for c in parse_coins(a["input"])] == a["coins"]


def test_bad_inputs_are_refused_with_their_kind() -> None:
    for bad in VECTORS["bad_inputs"]:
        kind, text = bad["kind"], bad["input"]
        err: type[InputError]
        if kind.startswith("bad_mnemonic"):
            err = InvalidMnemonic
            call: Any = Key.from_mnemonic
        elif kind.startswith(("bad_bech32", "bad_eip55")):
            err, call = InvalidAddress, parse_address
        else:
            err, call = InvalidAmount, parse_coins
        with pytest.raises(err) as e:
            call(text)
        assert e.value.kind == kind, (text, e.value)


@pytest.mark.parametrize("name", sorted(t["name"] for t in VECTORS["txs"]))
def test_signed_txs_match_the_vectors_byte_for_byte(name: str) -> None:
    vec = next(t for t in VECTORS["txs"] if t["name"] == name)
    key = Key.from_mnemonic(KEYS[vec["signer"]]["mnemonic"])
    msg = ParseDict(vec["msg"], _message_class(vec["type_url"])())
    assert msg.SerializeToString().hex() == vec["msg_bytes"]
    tx = sign_tx(key, [msg], chain_id=vec["chain_id"], account_number=int(vec["account_number"]),
                 sequence=int(vec["sequence"]), gas_limit=int(vec["gas_limit"]),
                 fee=int(vec["fee"][0]["amount"]), memo=vec["memo"])  # fmt: skip
    assert tx.body_bytes.hex() == vec["body_bytes"]
    assert tx.auth_info_bytes.hex() == vec["auth_info_bytes"]
    assert tx.sign_doc.hex() == vec["sign_doc"]
    assert tx.signature.hex() == vec["signature"]
    assert tx.tx_raw.hex() == vec["tx_raw"]
    assert tx.hash == vec["tx_hash"]
    d = decode_tx(bytes.fromhex(vec["tx_raw"]))
    assert d.sequence == int(vec["sequence"]) and d.memo == vec["memo"]
    assert d.public_key == key.public_key
    doc = d.sign_doc(vec["chain_id"], int(vec["account_number"]))
    assert verify(d.public_key, d.signature, doc)


def test_the_message_builders_make_the_vector_messages() -> None:
    from vcoin_sdk import msgs

    a, b, c = (KEYS[n]["cosmos"] for n in ("abandon", "legal", "letter"))
    built = {
        "bank_send": msgs.send(a["address_eip55"], b["address"], "1.5VCN"),
        "jobs_post_job": msgs.post_job(
            a["address"], task_type="text-generation", model="tiny-lm",
            input=b'{"prompts": ["The GPU marketplace"]}',
            spec='{"params": {"max_new_tokens": 16}}', max_price="2VCN"),
        "jobs_cancel_job": msgs.cancel_job(a["address"], 1),
        "staking_bond": msgs.bond(c["address"], "worker", "1000VCN"),
        "staking_unbond": msgs.unbond(c["address"], "worker", "500VCN"),
        "jobs_register_worker": msgs.register_worker(
            c["address"], gpu_model="H200", memory_mib=143_771, gpu_count=1,
            task_types=["text-generation", "embedding"],
            models=["tiny-lm", "all-minilm-l6-v2"], price_floor="1000avcn", max_concurrent=2),
        "jobs_claim_job": msgs.claim_job(c["address"], 1),
        "reputation_heartbeat": msgs.heartbeat(c["address"]),
    }  # fmt: skip
    for name, msg in built.items():
        vec = next(t for t in VECTORS["txs"] if t["name"] == name)
        assert msg.SerializeToString().hex() == vec["msg_bytes"], name


def test_bad_input_messages() -> None:
    from vcoin_sdk import msgs

    k = Key.from_mnemonic(KEYS["abandon"]["mnemonic"])
    with pytest.raises(InvalidAmount, match="at most 18 decimals"):
        msgs.send(k.address, k.address, "1.0000000000000000001VCN")
    with pytest.raises(InvalidAddress) as e:
        msgs.send(k.address, k.address[:-1] + "q", "1VCN")
    assert e.value.kind == "bad_bech32_checksum"
    with pytest.raises(InputError, match="role"):
        msgs.bond(k.address, "miner", "1VCN")
    with pytest.raises(InputError, match="exactly one"):
        msgs.post_job(k.address, model="tiny-lm", task_type="x", max_price=1)


def test_generated_mnemonics_restore_their_keys() -> None:
    key, words = Key.generate()
    assert len(words.split()) == 24
    assert Key.from_mnemonic(words).address == key.address
    assert len(vcoin_sdk.generate_mnemonic(12).split()) == 12


def test_the_sdk_proto_code_equals_a_fresh_generation() -> None:
    r = subprocess.run([sys.executable, str(SDK_PYTHON / "protogen.py"), "--check"],
                       capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_the_sdk_imports_nothing_of_the_node() -> None:
    for path in (SDK_PYTHON / "vcoin_sdk").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in NODE_PACKAGES, f"{path}: imports {n}"
    # and in a fresh interpreter, importing it loads none of them
    code = ("import sys, vcoin_sdk, vcoin_sdk.client, vcoin_sdk.msgs; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(NODE_PACKAGES)}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=SDK_PYTHON)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _dead_url() -> str:
    from tests.support.nodes import free_port

    return f"http://127.0.0.1:{free_port()}"


def test_a_node_that_is_down_is_a_clear_error_after_bounded_retries() -> None:
    url = _dead_url()
    key = Key.from_mnemonic(KEYS["abandon"]["mnemonic"])
    with Client(url, url, retries=2, backoff=0.05) as c:
        t0 = time.monotonic()
        with pytest.raises(NodeUnavailable, match="did not answer after 3 tries.*is it running"):
            c.balance(key.address)
        with pytest.raises(NodeUnavailable):
            c.send(key, key.address, "1VCN")
        assert time.monotonic() - t0 < 10


def test_the_async_client_says_the_same_for_a_node_that_is_down() -> None:
    url = _dead_url()

    async def main() -> None:
        async with AsyncClient(url, url, retries=1, backoff=0.05) as c:
            with pytest.raises(NodeUnavailable, match="after 2 tries"):
                await c.chain_id()

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < 10


def test_a_node_that_accepts_but_never_answers_times_out() -> None:
    """A socket that accepts connections and says nothing: the read timeout ends it."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    url = f"http://127.0.0.1:{srv.getsockname()[1]}"
    try:
        with Client(url, url, timeout=0.5, retries=1, backoff=0.05) as c:
            t0 = time.monotonic()
            with pytest.raises(NodeUnavailable, match="ReadTimeout"):
                c.height()
            assert time.monotonic() - t0 < 5
    finally:
        srv.close()


def test_fetched_bytes_that_do_not_match_their_hash_are_refused() -> None:
    from vcoin_sdk import IntegrityError, ops
    from vcoin_sdk.ops import Reply, State

    digest = "ab" * 32
    gen = ops.fetch_artifact(State(), digest)
    step = next(gen)
    assert step.path == f"/artifacts/{digest}"  # type: ignore[union-attr]
    with pytest.raises(IntegrityError, match="hash to"):
        gen.send(Reply(200, b"not those bytes"))


def test_the_package_builds_a_wheel_with_its_proto_code(tmp_path: Path) -> None:
    """``pip wheel`` of a copy of sdk/python (offline: setuptools is in the lock)."""
    import shutil
    import zipfile

    src = tmp_path / "src"
    shutil.copytree(SDK_PYTHON, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                    "__pycache__"))  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
                        "--no-build-isolation", str(src), "-w", str(tmp_path / "dist")],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "dist").glob("vcoin_sdk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"vcoin_sdk/py.typed", "vcoin_sdk/client.py", "vcoin_sdk/proto/jobs/tx_pb2.py",
            "vcoin_sdk/proto/jobs/tx_pb2.pyi"} <= names  # fmt: skip
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Name: vcoin-sdk" in meta and "Requires-Dist: cosmpy" in meta
