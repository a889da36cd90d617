"""The compiled contracts (``contracts/build``) against their sources and the precompile ABI.

* ``scripts/build-contracts --check`` passes: the committed artifacts equal a fresh
  compile by the pinned solc-js, and a copy of ``contracts/`` with one byte of one
  artifact changed, one artifact missing and one extra file makes it fail, naming
  exactly those three; a rebuild in a copy is byte-identical.
* Each interface artifact's ABI holds exactly the precompile functions the EVM module
  decodes (selectors and return types), and VCoin's and JobMarket's hold exactly their
  documented functions and events (``contracts/README.md``).
* VCoin and JobMarket are runtime code for genesis: non-empty, no constructor, the
  creation code is a prologue before the runtime code unchanged (no immutables).
* Every artifact records the solc version pinned in ``contracts/package.json``.

The ``--check`` tests run ``scripts/setup-contracts`` first (``npm ci``, skipped while
``contracts/node_modules`` matches the lock). Without Node.js and npm they skip, saying
so, unless ``VCOIN_REQUIRE_NODE`` is set; then they fail. The ABI tests read the
committed artifacts and need no Node.js.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_utils import function_signature_to_4byte_selector

from tests.support.tools import output_tail, require_tools

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
BUILD = CONTRACTS / "build"
SETUP = REPO / "scripts" / "setup-contracts"
BUILD_SCRIPT = REPO / "scripts" / "build-contracts"
NODE_TIMEOUT = 600  # s: npm ci on a cold cache, or one compile (about 2 s)

# signature -> return types, exactly as the EVM module's precompiles decode them
JOB_REQUEST = "(string,string,string,bytes,string,uint256,uint32,uint64,uint64)"
JOB_VIEW = "(uint64,address,address,string,string,string,uint256,uint256,string)"
PRECOMPILES: dict[str, dict[str, list[str]]] = {
    "IBank": {
        "balanceOf(address)": ["uint256"],
        "totalSupply()": ["uint256"],
        "send(address,address,uint256)": ["bool"],
    },
    "IStaking": {
        "bond(address,string,uint256)": ["bool"],
        "unbond(address,string,uint256)": ["bool"],
        "bonded(address,string)": ["uint256"],
        "slash(address,address,uint256)": ["uint256"],
    },
    "IJobs": {
        f"postJob(address,{JOB_REQUEST})": ["uint64"],
        "cancelJob(address,uint64)": ["bool"],
        "claimJob(address,uint64)": ["bool"],
        "submitResult(address,uint64,string,string,uint64,bytes)": ["bool"],
        "getJob(uint64)": [JOB_VIEW],
    },
    "IMint": {
        "mint(address,address,uint256)": ["bool"],
        "consume(address,uint256)": ["uint256", "uint256"],
        "treasury()": ["address"],
    },
}
FACADES: dict[str, dict[str, list[str]]] = {
    "VCoin": {
        "name()": ["string"],
        "symbol()": ["string"],
        "decimals()": ["uint8"],
        "STAKE_ROLE()": ["string"],
        "totalSupply()": ["uint256"],
        "balanceOf(address)": ["uint256"],
        "allowance(address,address)": ["uint256"],
        "transfer(address,uint256)": ["bool"],
        "approve(address,uint256)": ["bool"],
        "transferFrom(address,address,uint256)": ["bool"],
        "mint(address,uint256)": ["bool"],
        "consume(uint256)": ["uint256", "uint256"],
        "stake(uint256)": ["bool"],
        "unstake(uint256)": ["bool"],
        "slash(address,uint256)": ["uint256"],
    },
    "JobMarket": {
        f"post({JOB_REQUEST})": ["uint64"],
        "cancel(uint64)": ["bool"],
        "claim(uint64)": ["bool"],
        "submit(uint64,string,string,uint64,bytes)": ["bool"],
        "getJob(uint64)": [JOB_VIEW],
    },
}
# event signature -> which arguments are indexed
EVENTS: dict[str, dict[str, list[bool]]] = {
    "VCoin": {
        "Transfer(address,address,uint256)": [True, True, False],
        "Approval(address,address,uint256)": [True, True, False],
        "Consumed(address,uint256,uint256)": [True, False, False],
        "Staked(address,uint256)": [True, False],
        "Unstaked(address,uint256)": [True, False],
        "Slashed(address,uint256,uint256)": [True, False, False],
    },
    "JobMarket": {
        "JobPosted(uint64,address,string,string,uint256)": [True, True, False, False, False],
        "JobCancelled(uint64,address)": [True, True],
        "JobClaimed(uint64,address)": [True, True],
        "ResultSubmitted(uint64,address,string)": [True, True, False],
    },
}
ERC20 = [
    "name()",
    "symbol()",
    "decimals()",
    "totalSupply()",
    "balanceOf(address)",
    "transfer(address,uint256)",
    "allowance(address,address)",
    "approve(address,uint256)",
    "transferFrom(address,address,uint256)",
]
ARTIFACTS = sorted([*PRECOMPILES, *FACADES, "OZToken", "BankProbe", "EvmProbe"])


def canonical(param: dict[str, Any]) -> str:
    """An ABI parameter's canonical type, tuples spelt out: ``(string,uint256)[]``."""
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(canonical(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return str(t)


def signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(canonical(p) for p in entry['inputs'])})"


def artifact(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((BUILD / f"{name}.json").read_text())
    return doc


def functions(name: str) -> dict[bytes, tuple[str, list[str]]]:
    """selector -> (signature, return types) of the artifact's ABI."""
    out: dict[bytes, tuple[str, list[str]]] = {}
    for e in artifact(name)["abi"]:
        if e["type"] == "function":
            sig = signature(e)
            out[function_signature_to_4byte_selector(sig)] = (
                sig,
                [canonical(o) for o in e["outputs"]],
            )
    return out


def expected(table: dict[str, list[str]]) -> dict[bytes, tuple[str, list[str]]]:
    return {function_signature_to_4byte_selector(s): (s, outs) for s, outs in table.items()}


def pinned_solc() -> str:
    pkg = json.loads((CONTRACTS / "package.json").read_text())
    version: str = pkg["devDependencies"]["solc"]
    return version


# -- the committed artifacts (no Node.js needed) --


def test_build_holds_exactly_the_expected_artifacts() -> None:
    assert sorted(p.stem for p in BUILD.iterdir()) == ARTIFACTS
    for name in ARTIFACTS:
        text = (BUILD / f"{name}.json").read_text()
        assert text.endswith("}\n"), f"{name}.json: not as compile.mjs writes it"
        doc = json.loads(text)
        keys = ["contractName", "sourceName", "abi", "bytecode", "deployedBytecode", "compiler"]
        assert list(doc) == keys
        assert doc["contractName"] == name


@pytest.mark.parametrize("name", sorted(PRECOMPILES))
def test_precompile_interfaces_have_exactly_the_decoded_selectors(name: str) -> None:
    got = functions(name)
    want = expected(PRECOMPILES[name])
    assert got == want, f"{name}: the ABI differs from what the precompile decodes"
    doc = artifact(name)
    assert doc["bytecode"] == doc["deployedBytecode"] == "0x", f"{name} is an interface"
    assert [e for e in doc["abi"] if e["type"] != "function"] == []


@pytest.mark.parametrize("name", sorted(FACADES))
def test_facades_have_exactly_the_documented_functions_and_events(name: str) -> None:
    assert functions(name) == expected(FACADES[name])
    abi = artifact(name)["abi"]
    events = {
        signature(e): [bool(p["indexed"]) for p in e["inputs"]] for e in abi if e["type"] == "event"
    }
    assert events == EVENTS[name]
    others = [e["type"] for e in abi if e["type"] not in ("function", "event")]
    assert others == [], f"{name} must have no constructor, fallback or receive: {others}"


@pytest.mark.parametrize("name", sorted(FACADES))
def test_facades_are_runtime_code_for_genesis(name: str) -> None:
    doc = artifact(name)
    runtime, creation = doc["deployedBytecode"], doc["bytecode"]
    assert runtime.startswith("0x") and len(runtime) > 2 + 2 * 100, f"{name}: no runtime code"
    assert bytes.fromhex(runtime[2:]), f"{name}: deployedBytecode is not hex"
    # no constructor and no immutables: the creation code copies the runtime code as is,
    # so genesis can write deployedBytecode at the address and nothing else
    assert creation.endswith(runtime[2:]) and len(creation) > len(runtime)
    assert len(runtime) // 2 - 1 <= 24_576, f"{name}: over the EIP-170 code size limit"


def test_oz_token_is_a_plain_erc20() -> None:
    sigs = {sig for sig, _ in functions("OZToken").values()}
    assert set(ERC20) <= sigs
    doc = artifact("OZToken")
    ctor = [e for e in doc["abi"] if e["type"] == "constructor"]
    assert [[canonical(p) for p in c["inputs"]] for c in ctor] == [["uint256"]]
    assert doc["sourceName"] == "src/test/OZToken.sol"
    assert len(doc["deployedBytecode"]) > 2


def test_artifacts_record_the_pinned_solc() -> None:
    version = pinned_solc()
    assert version.count(".") == 2 and version.replace(".", "").isdigit(), (
        f"contracts/package.json must pin solc exactly, not {version!r}"
    )
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/solc"]["version"] == version
    for name in ARTIFACTS:
        compiler = artifact(name)["compiler"]
        assert compiler["version"].startswith(f"{version}+commit."), name
        assert compiler["settings"] == {
            "evmVersion": "cancun",
            "optimizer": {"enabled": True, "runs": 200},
        }, name


# -- a fresh compile (Node.js and the pinned packages) --


def _require_node() -> None:
    require_tools(
        ("node", "npm"), "compiling the contracts needs Node.js 20+ and npm", "VCOIN_REQUIRE_NODE"
    )


def _run(cmd: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=NODE_TIMEOUT)


def _output(r: subprocess.CompletedProcess[str]) -> str:
    return output_tail(r)


@pytest.fixture(scope="module")
def npm_ready() -> None:
    _require_node()
    r = _run([str(SETUP)])
    assert r.returncode == 0, f"scripts/setup-contracts failed (exit {r.returncode}):\n{_output(r)}"


def _copy_contracts(tmp_path: Path) -> Path:
    """contracts/ copied to tmp_path (node_modules linked, not copied); the copy's root."""
    dst = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, dst, ignore=shutil.ignore_patterns("node_modules"))
    (dst / "node_modules").symlink_to(CONTRACTS / "node_modules", target_is_directory=True)
    return dst


def test_build_check_passes(npm_ready: None) -> None:
    r = _run([str(BUILD_SCRIPT), "--check"])
    assert r.returncode == 0, (
        f"contracts/build is stale; run scripts/build-contracts and commit it:\n{_output(r)}"
    )
    assert f"matches a fresh compile ({len(ARTIFACTS)} artifacts)" in r.stdout


def test_build_check_names_a_changed_a_missing_and_an_extra_artifact(
    npm_ready: None, tmp_path: Path
) -> None:
    copy = _copy_contracts(tmp_path)
    vcoin = copy / "build" / "VCoin.json"
    text = vcoin.read_text()
    at = text.index('"deployedBytecode": "0x') + len('"deployedBytecode": "0x') + 100
    flipped = "0" if text[at] != "0" else "1"
    vcoin.write_text(text[:at] + flipped + text[at + 1 :])  # one byte of the runtime code
    (copy / "build" / "JobMarket.json").unlink()
    (copy / "build" / "Old.json").write_text("{}\n")
    r = _run(["node", str(copy / "compile.mjs"), "--check"], cwd=tmp_path)
    assert r.returncode == 1, _output(r)
    listed = sorted(line for line in r.stderr.splitlines() if "contracts/build/" in line)
    assert listed == [
        "[build-contracts] differs from a fresh compile: contracts/build/VCoin.json",
        "[build-contracts] missing: contracts/build/JobMarket.json",
        "[build-contracts] no contract produces it: contracts/build/Old.json",
    ], _output(r)
    assert "run scripts/build-contracts" in r.stderr
    # the real artifacts are untouched
    assert (BUILD / "VCoin.json").read_text() == text


def test_rebuild_is_byte_identical(npm_ready: None, tmp_path: Path) -> None:
    copy = _copy_contracts(tmp_path)
    (copy / "build" / "OZToken.json").write_text("stale\n")
    (copy / "build" / "Old.json").write_text("{}\n")
    r = _run(["node", str(copy / "compile.mjs")], cwd=tmp_path)
    assert r.returncode == 0, _output(r)
    got = {p.name: p.read_bytes() for p in (copy / "build").iterdir()}
    want = {p.name: p.read_bytes() for p in BUILD.iterdir()}
    assert got == want
