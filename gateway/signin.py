"""Wallet sign-in messages: EIP-4361 (Sign-In with Ethereum) and ADR-036.

A ``0x…`` wallet signs an EIP-4361 message with ``personal_sign`` (EIP-191); the
gateway recovers the signer with eth_account. A ``vcoin1…`` wallet signs the same
text in its CAIP-122 form ("… sign in with your Cosmos account:", the Cosmos chain
id) as ADR-036 off-chain data: the amino-JSON sign doc below, with one
``sign/MsgSignData`` whose ``data`` is the base64 of the message, account number,
sequence, chain id and fee all empty or zero, sorted keys and no spaces, signed
like a tx (secp256k1 over sha256, ``chain.crypto.verify_signature``)::

    {"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"",
     "msgs":[{"type":"sign/MsgSignData","value":{"data":"<b64>","signer":"vcoin1…"}}],
     "sequence":"0"}

The login request carries the message, the signature (hex ``0x…`` 65 bytes for
Ethereum; base64 of 64 bytes r||s for ADR-036) and, for ADR-036, the base64
compressed public key. What the gateway then checks (domain, URI, chain id, nonce,
times) is the same for both (``gateway.auth``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from chain import crypto

ETH = "Ethereum"
COSMOS = "Cosmos"
MAX_MESSAGE_CHARS = 4096
_HEAD = re.compile(
    r"^(?P<domain>[^\s]+) wants you to sign in with your (?P<kind>Ethereum|Cosmos) account:$"
)
_FIELDS = ("URI", "Version", "Chain ID", "Nonce", "Issued At", "Expiration Time", "Not Before")


class SignInError(ValueError):
    """The message or its signature does not hold (the text says why)."""


@dataclass(frozen=True)
class SignInMessage:
    domain: str
    kind: str  # ETH or COSMOS
    address: str
    statement: str
    uri: str
    chain_id: str
    nonce: str
    issued_at: str
    expiration_time: str = ""
    version: str = "1"

    def render(self) -> str:
        lines = [f"{self.domain} wants you to sign in with your {self.kind} account:", self.address]
        lines += ["", self.statement] if self.statement else []
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time:
            lines.append(f"Expiration Time: {self.expiration_time}")
        return "\n".join(lines)


def parse(text: str) -> SignInMessage:
    """An EIP-4361 / CAIP-122 message, strictly: the fields in the standard order."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise SignInError("message too long")
    lines = text.split("\n")
    if len(lines) < 8:
        raise SignInError("not a sign-in message")
    m = _HEAD.match(lines[0])
    if not m:
        raise SignInError(
            "the first line is not '<domain> wants you to sign in with your … account:'"
        )
    address = lines[1]
    i = 2
    statement = ""
    if lines[i] != "":
        raise SignInError("a blank line must follow the address")
    i += 1
    if not lines[i].startswith("URI: "):
        statement = lines[i]
        i += 1
        if i >= len(lines) or lines[i] != "":
            raise SignInError("a blank line must follow the statement")
        i += 1
    fields: dict[str, str] = {}
    order = 0
    for line in lines[i:]:
        name, sep, value = line.partition(": ")
        if not sep or name not in _FIELDS or _FIELDS.index(name) < order or name in fields:
            raise SignInError(f"unexpected line {line[:80]!r}")
        order = _FIELDS.index(name)
        fields[name] = value
    for need in ("URI", "Version", "Chain ID", "Nonce", "Issued At"):
        if need not in fields:
            raise SignInError(f"the message has no {need}")
    if fields["Version"] != "1":
        raise SignInError("Version must be 1")
    if "Not Before" in fields:
        raise SignInError("Not Before is not supported")
    return SignInMessage(
        domain=m["domain"],
        kind=m["kind"],
        address=address,
        statement=statement,
        uri=fields["URI"],
        chain_id=fields["Chain ID"],
        nonce=fields["Nonce"],
        issued_at=fields["Issued At"],
        expiration_time=fields.get("Expiration Time", ""),
    )


def parse_time(text: str, what: str) -> float:
    """An RFC 3339 time as seconds since the epoch (a zone is required)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise SignInError(f"{what} is not an RFC 3339 time") from e
    if t.tzinfo is None:
        raise SignInError(f"{what} has no time zone")
    return t.timestamp()


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def recover_eth(message: str, signature_hex: str) -> str:
    """The checksummed 0x address that signed ``message`` with personal_sign (EIP-191)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        sig = bytes.fromhex(signature_hex.removeprefix("0x"))
        if len(sig) != 65:
            raise SignInError("an Ethereum signature is 65 bytes")
        return str(Account.recover_message(encode_defunct(text=message), signature=sig))
    except SignInError:
        raise
    except Exception as e:  # eth_keys' BadSignature, ValueError on malformed input
        raise SignInError("the signature does not recover") from e


def adr036_sign_doc(signer: str, data: bytes) -> bytes:
    """The ADR-036 amino-JSON sign bytes of ``data`` signed by ``signer`` (bech32)."""
    doc = {
        "account_number": "0",
        "chain_id": "",
        "fee": {"amount": [], "gas": "0"},
        "memo": "",
        "msgs": [
            {
                "type": "sign/MsgSignData",
                "value": {"data": base64.b64encode(data).decode(), "signer": signer},
            }
        ],
        "sequence": "0",
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def verify_adr036(address: str, pubkey_b64: str, signature_b64: str, message: str) -> None:
    """Raise SignInError unless the compressed secp256k1 ``pubkey`` is ``address``'s key
    and signed ``message`` as ADR-036 data."""
    try:
        pubkey = base64.b64decode(pubkey_b64, validate=True)
        sig = base64.b64decode(signature_b64, validate=True)
        want = crypto.from_bech32(address)
    except ValueError as e:
        raise SignInError("pub_key and signature are base64, the address bech32") from e
    if len(pubkey) != 33 or crypto.pubkey_to_address(pubkey) != want:
        raise SignInError("pub_key is not the key of the address")
    if not crypto.verify_signature(pubkey, sig, adr036_sign_doc(address, message.encode())):
        raise SignInError("the signature does not verify")
