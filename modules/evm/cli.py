"""``vcoind tx evm send-raw|deploy|call-contract`` and
``vcoind query evm account|code|storage|receipt|params|base-fee|call``
(see chain/cli/__init__.py).

Addresses are ``0x…`` (EIP-55 or all one case) or ``vcoin1…``: both name the same
20-byte account. A key name stands for the key's *Ethereum* address (keccak of its
public key), the account its Ethereum txs control: for an ``eth_secp256k1`` key that
is its account; for a ``secp256k1`` key it is another one, which needs VCN of its own.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from chain.cli.common import CliError, Env, confirm, fmt_vcn, parse_amount_avcn
from chain.client import TxResponse, tx_hash
from chain.coins import DISPLAY
from chain.crypto import (
    AddressError,
    PrivateKey,
    keccak256,
    parse_address,
    to_eth_address,
)
from chain.errors import ChainError
from modules.evm.envelope import MAX_ETH_TX_BYTES, intrinsic_gas, unwrap, wrap
from modules.evm.errors import CODESPACE, ErrExecutionReverted

# eth-abi and eth-account load in the commands that use them: every vcoind command
# loads this file, and they take half a second to import

GWEI = 10**9
DEFAULT_TIP = GWEI  # the priority fee when --tip is not given
GAS_MARGIN = 1.25  # on the node's estimate (eth_call's gas + intrinsic gas)
REVERTED = "execution reverted"


# -- parsing ----------------------------------------------------------------------------
def parse_uint(text: str, what: str) -> int:
    """``text`` as a whole number ≥ 0: decimal, 0x hex, ``2gwei``, ``1.5VCN`` or ``7avcn``."""
    s = text.strip().lower().replace("_", "")
    try:
        if s.endswith("gwei"):
            n = int(s[:-4], 0) * GWEI
        elif s.endswith("vcn"):
            n = parse_amount_avcn(s, what)
        else:
            n = int(s, 0)
    except ValueError as e:
        raise CliError(f"{what} {text!r} is not a whole number (e.g. 21000, 0x5208, 2gwei)") from e
    if not 0 <= n < 2**256:
        raise CliError(f"{what} must be in [0, 2^256)")
    return n


def parse_data(text: str, what: str = "--data") -> bytes:
    s = text.strip()
    if s[:2] in ("0x", "0X"):
        s = s[2:]
    try:
        return bytes.fromhex(s)
    except ValueError as e:
        raise CliError(f"{what} must be hex (0x…): {e}") from e


def address_of(env: Env, text: str) -> bytes:
    """A 20-byte address: ``0x…``, ``vcoin1…``, or a key name (its Ethereum address)."""
    try:
        return parse_address(text)
    except AddressError as e:
        ks = env.keystore()
        try:
            if ks.exists(text):
                return parse_address(ks.show(text).eth_address)
        except Exception:  # noqa: BLE001 - an unreadable keystore is "not a key"
            pass
        raise CliError(f"{text!r} is neither a 0x… / vcoin1… address nor a key name: {e}") from e


def _abi_value(env: Env, typ: str, v: Any) -> Any:
    """A JSON value as eth_abi wants it for ``typ`` (an address may be a key name)."""
    if typ.endswith("]"):
        if not isinstance(v, list):
            raise CliError(f"a {typ} argument is a JSON list, got {v!r}")
        return [_abi_value(env, typ[: typ.rindex("[")], x) for x in v]
    if typ.startswith(("uint", "int")):
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise CliError(f"a {typ} argument is a number or a numeric string, got {v!r}")
        return int(v, 0) if isinstance(v, str) else v
    if typ == "address":
        return to_eth_address(address_of(env, str(v)))
    if typ.startswith("bytes"):
        return parse_data(str(v), f"{typ} argument")
    return v


def encode_args(env: Env, types: list[str], values: list[Any]) -> bytes:
    if len(values) != len(types):
        raise CliError(f"--args has {len(values)} values; ({', '.join(types)}) takes {len(types)}")
    vals = [_abi_value(env, t, v) for t, v in zip(types, values, strict=True)]
    try:
        from eth_abi.abi import encode as abi_encode

        return abi_encode(types, vals)
    except Exception as e:  # noqa: BLE001 - eth_abi's encoders raise many kinds
        raise CliError(f"--args do not encode as ({', '.join(types)}): {e}") from e


def load_args(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        v = json.loads(text)
    except ValueError as e:
        raise CliError(f"--args is not JSON: {e}") from e
    if not isinstance(v, list):
        raise CliError("--args is a JSON list, e.g. '[1000]'")
    return v


def split_sig(sig: str) -> tuple[str, list[str]]:
    """``transfer(address,uint256)`` -> its canonical form and the argument types."""
    s = sig.replace(" ", "")
    if "(" not in s or not s.endswith(")"):
        raise CliError(f"--sig {sig!r} is not a function signature like transfer(address,uint256)")
    inner = s[s.index("(") + 1 : -1]
    return s, [t for t in inner.split(",") if t]


def calldata(env: Env, args: argparse.Namespace) -> bytes:
    """--data, or --sig with --args ABI-encoded after the 4-byte selector."""
    if args.data and args.sig:
        raise CliError("give --data or --sig (with --args), not both")
    if args.sig:
        canon, types = split_sig(args.sig)
        return keccak256(canon.encode())[:4] + encode_args(env, types, load_args(args.args))
    if args.args:
        raise CliError("--args needs --sig (the function's signature)")
    return parse_data(args.data or "0x")


def load_artifact(path: str) -> dict[str, Any]:
    try:
        art = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read artifact {path}: {e}") from e
    if not isinstance(art, dict) or not isinstance(art.get("bytecode"), str):
        raise CliError(f"{path} is not a compiled artifact: no bytecode (see contracts/build)")
    return art


def deploy_code(env: Env, art: dict[str, Any], args_json: str | None) -> bytes:
    """The artifact's bytecode followed by its ABI-encoded constructor arguments."""
    code = parse_data(art["bytecode"], "the artifact's bytecode")
    if not code:
        raise CliError("the artifact's bytecode is empty (an interface or abstract contract?)")
    ctor = next((x for x in art.get("abi") or [] if x.get("type") == "constructor"), None)
    types = [i["type"] for i in (ctor or {}).get("inputs") or []]
    values = load_args(args_json)
    return code + (encode_args(env, types, values) if types or values else b"")


# -- signing and sending ----------------------------------------------------------------
def estimate_gas(env: Env, sender: bytes, to: bytes | None, data: bytes, value: int) -> int:
    """The node's eth_call of the message, plus intrinsic gas, with a margin."""
    req: dict[str, Any] = {"from": "0x" + sender.hex(), "data": "0x" + data.hex()}
    req["value"] = str(value)
    if to is not None:
        req["to"] = "0x" + to.hex()
    out = env.client().query("evm", "call", req)
    if not out.get("success"):
        raise CliError(
            f"the node's dry run of this tx failed ({out.get('error') or 'no reason'}); "
            "nothing was sent (give --gas to send it anyway)"
        )
    limit = int(env.client().query("evm", "params")["block_gas_limit"])
    est = math.ceil((intrinsic_gas(data, to is None) + int(out["gas_used"])) * GAS_MARGIN)
    return min(est, limit)


def sign_eth_tx(
    env: Env, args: argparse.Namespace, key: PrivateKey, to: bytes | None, data: bytes
) -> bytes:
    """An EIP-1559 tx from ``key``'s Ethereum address, nonce/fees/gas from the node."""
    client = env.client()
    sender = key.eth_address
    value = parse_uint(args.value, "--value")
    acc = client.query("evm", "account", {"address": "0x" + sender.hex()})
    nonce = int(acc["nonce"]) if args.nonce is None else parse_uint(args.nonce, "--nonce")
    tip = DEFAULT_TIP if args.tip is None else parse_uint(args.tip, "--tip")
    if args.max_fee is not None:
        max_fee = parse_uint(args.max_fee, "--max-fee")
    else:
        max_fee = 2 * int(client.query("evm", "base_fee")["base_fee"]) + tip
    if tip > max_fee:
        raise CliError(f"--tip {tip} is over the max fee per gas {max_fee}")
    gas = parse_uint(args.gas, "--gas") if args.gas else estimate_gas(env, sender, to, data, value)
    chain_id = int(client.query("evm", "params")["chain_id"])
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "gas": gas,
        "value": value,
        "data": "0x" + data.hex(),
    }
    if to is not None:
        tx["to"] = to_eth_address(to)
    if int(acc["balance"]) < gas * max_fee + value:
        raise CliError(
            f"{to_eth_address(sender)}, the Ethereum address of key {args.from_key!r}, has "
            f"{acc['balance']}avcn; this tx may cost {gas * max_fee + value}avcn. Fund it "
            f"(vcoind tx bank send {args.from_key} {to_eth_address(sender)} AMOUNT)"
        )
    what = f"deploy {len(data)} bytes of code" if to is None else f"call {to_eth_address(to)}"
    summary = (
        f"from {to_eth_address(sender)} (nonce {nonce}): {what}, value {fmt_vcn(value)} "
        f"{DISPLAY}; gas {gas}, max fee {max_fee} avcn/gas (tip {tip}), at most "
        f"{fmt_vcn(gas * max_fee + value)} {DISPLAY}"
    )
    if not args.yes and sys.stdin.isatty():
        print(summary, file=sys.stderr)
    confirm("send this transaction?", args.yes)
    from eth_account import Account

    return bytes(Account.sign_transaction(tx, key.secret).raw_transaction)


def revert_reason_of(resp: TxResponse) -> str:
    if resp.codespace == CODESPACE and resp.code == ErrExecutionReverted.code:
        _, _, reason = resp.log.partition(REVERTED)
        return reason.lstrip(": ").strip()
    return ""


_ETH_KEYS = (
    "hash from to contract nonce type value gas_limit gas_used effective_gas_price "
    "base_fee_burned tip_paid status"
).split()


def receipt(resp: TxResponse, eth_hash: str, index: int = 0) -> dict[str, Any]:
    """A receipt (Ethereum's field names) of a tx result, with its CometBFT side."""
    eth = {k: v[0] for k in _ETH_KEYS if (v := resp.attributes("ethereum_tx", k))}
    logs: list[dict[str, Any]] = []
    for e in resp.events:
        if e.get("type") == "tx_log":
            a = {str(x.get("key")): str(x.get("value", "")) for x in e.get("attributes") or []}
            logs.append(
                {
                    "address": a.get("address", ""),
                    "topics": [t for t in a.get("topics", "").split(",") if t],
                    "data": a.get("data", "0x"),
                    "logIndex": len(logs),
                    "transactionHash": eth_hash,
                    "blockNumber": resp.height,
                }
            )
    return {
        "transactionHash": eth_hash,
        "cometbftHash": resp.hash,
        "blockNumber": resp.height,
        "transactionIndex": index,
        "from": eth.get("from", ""),
        "to": eth.get("to") or None,
        "contractAddress": eth.get("contract") or None,
        "nonce": eth.get("nonce", ""),
        "type": eth.get("type", ""),
        "value": eth.get("value", ""),
        "status": int(eth["status"]) if "status" in eth else None,  # None: it did not run
        "gasLimit": eth.get("gas_limit", str(resp.gas_wanted)),
        "gasUsed": eth.get("gas_used", str(resp.gas_used)),
        "effectiveGasPrice": eth.get("effective_gas_price", ""),
        "baseFeeBurned": eth.get("base_fee_burned", ""),
        "tipPaid": eth.get("tip_paid", ""),
        "code": resp.code,
        "codespace": resp.codespace,
        "log": resp.log,
        "revertReason": revert_reason_of(resp),
        "logs": logs,
    }


def receipt_text(out: dict[str, Any], pending: bool = False) -> str:
    height = out["blockNumber"] or ("pending (sync broadcast)" if pending else "none")
    code = f"{out['code']}" + (f" ({out['codespace']})" if out["codespace"] else "")
    lines = [
        f"eth hash:  {out['transactionHash']}",
        f"txhash:    {out['cometbftHash']}",
        f"height:    {height}",
        f"code:      {code}",
    ]
    if out["status"] is not None:
        lines += [
            f"status:    {out['status']} ({'success' if out['status'] else 'failed'})",
            f"from:      {out['from']}",
            f"to:        {out['to'] or '(contract creation)'}",
            f"gas used:  {out['gasUsed']} of {out['gasLimit']} at {out['effectiveGasPrice']}",
        ]
    if out["contractAddress"]:
        lines.append(f"contract:  {to_eth_address(parse_address(out['contractAddress']))}")
    if out["revertReason"]:
        lines.append(f"revert:    {out['revertReason']}")
    if out["logs"]:
        lines.append(f"logs:      {len(out['logs'])}")
    if out["log"] and not out["revertReason"]:
        lines.append(f"log:       {out['log']}")
    return "\n".join(lines)


def send(env: Env, raw: bytes, mode: str) -> int:
    """Broadcast ``raw`` (bare or wrapped) and print the result; 0 if it ran successfully."""
    client = env.client()
    h = tx_hash(raw)
    if mode == "sync":
        r = client.broadcast_tx_sync(raw)
        resp = TxResponse.of(r.get("hash") or h, 0, r)
    else:
        r = client.broadcast_tx_commit(raw)
        check = r.get("check_tx") or {}
        if int(check.get("code") or 0) != 0:
            resp = TxResponse.of(r.get("hash") or h, 0, check)
        else:
            deliver = r.get("tx_result") or r.get("deliver_tx") or {}
            resp = TxResponse.of(r.get("hash") or h, r.get("height"), deliver)
    out = receipt(resp, "0x" + keccak256(unwrap(raw)).hex())
    env.emit(out, lambda: receipt_text(out, pending=resp.ok))
    if not resp.ok:
        where = "in its block (the gas was paid)" if resp.height else "before it entered a block"
        print(f"error: the chain refused the tx {where}: {resp.log}", file=sys.stderr)
        return 1
    return 0


# -- commands ---------------------------------------------------------------------------
def _eth_tx_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("transaction options")
    g.add_argument("--from", dest="from_key", required=True, metavar="KEY", help="key that signs")
    g.add_argument("--value", default="0", help="VCN sent with the tx (e.g. 1.5VCN, 1000avcn)")
    g.add_argument(
        "--gas", help="gas limit (default: the node's dry run of the tx plus a 25%% margin)"
    )
    g.add_argument(
        "--max-fee", help="max fee per gas in avcn or gwei (default: 2 × base fee + the tip)"
    )
    g.add_argument("--tip", help="max priority fee per gas (default 1gwei)")
    g.add_argument("--nonce", help="the tx's nonce (default: the account's next one)")
    _send_flags(g)
    g.add_argument("--yes", "-y", action="store_true", help="sign and send without asking")
    g.add_argument("--passphrase-file", help="read the key's passphrase from this file")


def _send_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--broadcast-mode",
        choices=("commit", "sync"),
        default="commit",
        help="commit: wait until the tx is in a block (default); sync: return after CheckTx",
    )
    g.add_argument(
        "--bare",
        action="store_true",
        help="send the Ethereum encoding as it is (default: in its MsgEthereumTx envelope)",
    )


def _call_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="calldata, 0x-prefixed hex")
    p.add_argument("--sig", help="a function signature, e.g. 'transfer(address,uint256)'")
    p.add_argument("--args", help="the function's arguments, a JSON list (with --sig)")


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "evm",
        help="send Ethereum transactions: raw, contract deploys and calls",
        description="Ethereum transactions on the chain's EVM (Cancun rules, gas in avcn: "
        "1 wei = 1 avcn). deploy and call-contract sign an EIP-1559 tx with a keystore key: "
        "its Ethereum address (keccak of the public key) is the sender.",
    )
    sub = p.add_subparsers(dest="evm_cmd", required=True, metavar="COMMAND")
    raw = sub.add_parser(
        "send-raw",
        help="broadcast a signed Ethereum tx (0x hex)",
        description="Broadcast RAW_TX, a signed Ethereum tx in hex (what eth_sendRawTransaction "
        "takes, or already in its MsgEthereumTx envelope). Prints the Ethereum hash, the "
        "CometBFT tx hash, the status, gas used, the new contract's address and a revert "
        "reason; exits 1 if the chain refused it or it failed in its block.",
    )
    raw.add_argument("raw_tx", metavar="RAW_TX", help="0x-prefixed hex of the signed tx")
    _send_flags(raw.add_argument_group("transaction options"))
    raw.set_defaults(func=run_send_raw)
    dep = sub.add_parser(
        "deploy",
        help="deploy a compiled contract (contracts/build/*.json)",
        description="Deploy ARTIFACT's bytecode (a solc/hardhat JSON with abi and bytecode) "
        "with its constructor arguments --args, a JSON list matching the constructor's "
        "ABI, e.g. --args '[1000000]'. The nonce comes from `query evm account`, the fee "
        "is 2 × the base fee + a 1 gwei tip, and the gas the node's dry run plus 25%, "
        "unless --nonce, --max-fee, --tip or --gas say otherwise.",
    )
    dep.add_argument("artifact", metavar="ARTIFACT", help="compiled contract JSON")
    dep.add_argument("--args", help="constructor arguments, a JSON list")
    _eth_tx_flags(dep)
    dep.set_defaults(func=run_deploy)
    cc = sub.add_parser(
        "call-contract",
        help="send a tx calling a contract",
        description="Send an EIP-1559 tx to ADDRESS with --data, or with --sig and --args "
        "(e.g. --sig 'transfer(address,uint256)' --args '[\"0xab…\", 5]'); --value sends VCN.",
    )
    cc.add_argument("to", metavar="ADDRESS", help="0x… or vcoin1… address")
    _call_flags(cc)
    _eth_tx_flags(cc)
    cc.set_defaults(func=run_call_contract)


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "evm",
        help="EVM accounts, code, storage, receipts, params and calls",
        description="Read the EVM's state. ADDRESS is 0x… or vcoin1… (the same account), or "
        "a key name (its Ethereum address).",
    )
    sub = p.add_subparsers(dest="evm_query", required=True, metavar="WHAT")
    acc = sub.add_parser("account", help="balance, nonce and code hash, both address forms")
    acc.add_argument("address", metavar="ADDRESS")
    acc.set_defaults(func=run_account)
    code = sub.add_parser("code", help="a contract's runtime code")
    code.add_argument("address", metavar="ADDRESS")
    code.set_defaults(func=run_code)
    st = sub.add_parser("storage", help="one 32-byte storage slot of a contract")
    st.add_argument("address", metavar="ADDRESS")
    st.add_argument("slot", metavar="SLOT", help="slot number, decimal or 0x hex")
    st.set_defaults(func=run_storage)
    rc = sub.add_parser(
        "receipt",
        help="the receipt of an Ethereum tx, by its hash",
        description="Finds the tx by its Ethereum hash (the node's tx_search on "
        "ethereum_tx.hash) and prints a receipt: status, gas, contract address, logs.",
    )
    rc.add_argument("hash", metavar="HASH", help="the Ethereum tx hash, 0x + 64 hex digits")
    rc.set_defaults(func=run_receipt)
    sub.add_parser("params", help="the evm params (chain id, block gas limit, fees)").set_defaults(
        func=run_params
    )
    sub.add_parser("base-fee", help="the current base fee per gas, in avcn").set_defaults(
        func=run_base_fee
    )
    call = sub.add_parser(
        "call",
        help="run a call on the last block's state (eth_call); nothing is sent",
        description="eth_call: --to with --data, or --sig/--args; --returns decodes the output "
        "(e.g. --returns uint256). Without --to, --data is init code.",
    )
    call.add_argument("--to", help="0x… or vcoin1… address (none: a create)")
    call.add_argument("--from", dest="sender", help="caller (default the zero address)")
    call.add_argument("--value", default="0", help="VCN sent with the call")
    call.add_argument("--gas", help="gas limit (default the block gas limit)")
    call.add_argument("--returns", help="output types to decode, e.g. 'uint256' or 'string,bool'")
    _call_flags(call)
    call.set_defaults(func=run_call)


def _raw_input(text: str) -> bytes:
    raw = parse_data(text, "RAW_TX")
    if not raw:
        raise CliError("RAW_TX is empty")
    if len(raw) > 2 * MAX_ETH_TX_BYTES:
        raise CliError(f"RAW_TX is {len(raw)} bytes; the chain takes at most {MAX_ETH_TX_BYTES}")
    return raw


def run_send_raw(args: argparse.Namespace, env: Env) -> int:
    raw = _raw_input(args.raw_tx)
    try:
        eth_raw = unwrap(raw)
    except ChainError as e:
        raise CliError(f"RAW_TX: {e.message}") from e
    return send(env, eth_raw if args.bare else wrap(eth_raw), args.broadcast_mode)


def _send_signed(env: Env, args: argparse.Namespace, to: bytes | None, data: bytes) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    eth_raw = sign_eth_tx(env, args, key, to, data)
    return send(env, eth_raw if args.bare else wrap(eth_raw), args.broadcast_mode)


def run_deploy(args: argparse.Namespace, env: Env) -> int:
    code = deploy_code(env, load_artifact(args.artifact), args.args)
    return _send_signed(env, args, None, code)


def run_call_contract(args: argparse.Namespace, env: Env) -> int:
    return _send_signed(env, args, address_of(env, args.to), calldata(env, args))


def run_account(args: argparse.Namespace, env: Env) -> None:
    a = address_of(env, args.address)
    out = env.client().query("evm", "account", {"address": "0x" + a.hex()})
    out["address"] = to_eth_address(a)
    bal = int(out["balance"])
    kind = f"yes, code hash {out['code_hash']}" if out["is_contract"] else "no"
    env.emit(
        out,
        lambda: "\n".join(
            [
                f"address:   {out['address']}",
                f"bech32:    {out['bech32']}",
                f"balance:   {fmt_vcn(bal)} {DISPLAY} ({bal} avcn)",
                f"nonce:     {out['nonce']}",
                f"contract:  {kind}",
            ]
        ),
    )


def run_code(args: argparse.Namespace, env: Env) -> None:
    a = address_of(env, args.address)
    out = env.client().query("evm", "code", {"address": "0x" + a.hex()})
    out["address"] = to_eth_address(a)
    env.emit(out, lambda: out["code"] if out["code"] != "0x" else "0x (no code)")


def run_storage(args: argparse.Namespace, env: Env) -> None:
    a = address_of(env, args.address)
    slot = parse_uint(args.slot, "SLOT")
    req = {"address": "0x" + a.hex(), "slot": hex(slot)}
    out = env.client().query("evm", "storage", req)
    out["address"] = to_eth_address(a)
    env.emit(out, lambda: str(out["value"]))


def run_params(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("evm", "params")
    env.emit(out, lambda: "\n".join(f"{k}: {v}" for k, v in sorted(out.items())))


def run_base_fee(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("evm", "base_fee")
    fee = int(out["base_fee"])
    env.emit(out, f"{fee} avcn per gas ({fee / GWEI:g} gwei)")


def run_call(args: argparse.Namespace, env: Env) -> int:
    req: dict[str, Any] = {"data": "0x" + calldata(env, args).hex()}
    req["value"] = str(parse_uint(args.value, "--value"))
    if args.to:
        req["to"] = "0x" + address_of(env, args.to).hex()
    if args.sender:
        req["from"] = "0x" + address_of(env, args.sender).hex()
    if args.gas:
        req["gas"] = str(parse_uint(args.gas, "--gas"))
    out = env.client().query("evm", "call", req)
    if args.returns and out.get("success"):
        types = [t for t in args.returns.replace(" ", "").split(",") if t]
        try:
            from eth_abi.abi import decode as abi_decode

            vals = abi_decode(types, parse_data(out["output"]))
        except Exception as e:  # noqa: BLE001 - eth_abi's decoders raise many kinds
            raise CliError(f"the output does not decode as {args.returns}: {e}") from e
        out["decoded"] = [v.hex() if isinstance(v, bytes) else v for v in vals]

    def text() -> str:
        if not out.get("success"):
            return f"failed: {out.get('error')} (gas used {out['gas_used']})"
        if "decoded" in out:
            return "\n".join(str(v) for v in out["decoded"])
        return str(out["output"])

    env.emit(out, text)
    return 0 if out.get("success") else 1


def run_receipt(args: argparse.Namespace, env: Env) -> int:
    h = args.hash.strip().lower()
    if not h.startswith("0x") or len(h) != 66 or any(c not in "0123456789abcdef" for c in h[2:]):
        raise CliError("HASH is an Ethereum tx hash: 0x followed by 64 hex digits")
    found = env.client().tx_search(f"ethereum_tx.hash='{h}'", per_page=1)
    txs = found.get("txs") or []
    if not txs:
        raise CliError(f"no tx with Ethereum hash {h} in this node's blocks (yet?)")
    tx = txs[0]
    resp = TxResponse.of(tx.get("hash") or "", tx.get("height"), tx.get("tx_result") or {})
    out = receipt(resp, h, int(tx.get("index") or 0))
    env.emit(out, lambda: receipt_text(out))
    return 0
