"""The devnet's gateway: ``scripts/devnet`` runs a ``vcoin-gateway`` beside the node.

Two steps, each a subcommand of ``python -m app.testnet_gateway`` (the script runs
them; nothing here changes what the chain computes, only which txs are sent):

``prepare`` (before the gateway starts), each part skipped where already done:

- the gateway's home is ``$VCOIN_HOME/gateway``; its signing key ``gateway`` is the
  dev key of the public seed ``"gateway"`` (UNENCRYPTED test backend, like the other
  dev keys: local use only), and ``config.toml`` names the node's RPC and REST, the
  listen address and that key (written on every run: the ports may have changed);
- the gateway's account pays the fee of each ``MsgExec`` it signs: when it holds less
  than ``FUND_BELOW`` the faucet dev account sends it ``FUND``;
- the dev user (``alice``) grants the gateway's account ``/vcoin.jobs.v1.MsgPostJob``
  and ``/vcoin.training.v1.MsgPostTraining`` (distributed trainings through
  ``/v1/fine_tuning/jobs``), each with a spend limit of ``GRANT`` (``x/authz``, no
  expiry) when no grant is there or less than ``GRANT_BELOW`` is left of it.

``api-key`` (once the gateway answers): the dev user's API key. The one of the last run
(``$VCOIN_HOME/gateway/dev-api-key``, 0600) when the gateway still takes it; else a
new one made through the gateway's own API, as a wallet does: a challenge for alice's
``vcoin1…`` address, signed ADR-036 with her dev key, ``POST /v1/auth/login`` for a
session token, then ``POST /v1/keys`` (all scopes, spend cap ``KEY_CAP``, rate limit
``KEY_RATE`` a minute). It prints the key; the gateway keeps only its sha256.

``sign_in`` and ``new_api_key`` are also what ``scripts/bench/gateway.py`` uses.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from chain.coins import DECIMALS, DENOM
from chain.crypto import PrivateKey
from genesis.devnet import dev_key

if TYPE_CHECKING:
    from chain.client import NodeClient

VCN = 10**DECIMALS
GATEWAY_KEY = "gateway"  # the key name in the gateway's home and the dev key's seed
DEV_USER = "alice"
POST_JOB = "/vcoin.jobs.v1.MsgPostJob"
POST_TRAINING = "/vcoin.training.v1.MsgPostTraining"
FUND = 10_000 * VCN  # fees of the gateway's MsgExec txs
FUND_BELOW = 100 * VCN
GRANT = 100_000 * VCN  # the dev user's budget at the gateway (each job spends its max price)
GRANT_BELOW = 1_000 * VCN
KEY_CAP = 10_000 * VCN  # the dev API key's spend cap, within the grant
KEY_RATE = 600  # requests a minute
KEY_FILE = "dev-api-key"


def gateway_home(vcoin_home: Path) -> Path:
    return vcoin_home / "gateway"


def say(text: str) -> None:
    print(f"[devnet] {text}", file=sys.stderr, flush=True)


def prepare(vcoin_home: Path, rpc: str, rest: str, listen: str) -> Path:
    """Key, config, the account's fee money and the dev user's grant; the gateway home."""
    from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

    from chain.client import NodeClient
    from chain.keystore import Keystore
    from gateway.config import GatewayConfig
    from modules.authz.msgs import MsgGrant
    from modules.bank.msgs import MsgSend

    home = gateway_home(vcoin_home)
    key = dev_key(GATEWAY_KEY)
    ks = Keystore(home)
    if not ks.exists(GATEWAY_KEY):
        ks.import_secret(GATEWAY_KEY, key.secret.hex(), None, "test")
        say(f"gateway key {GATEWAY_KEY!r} ({key.bech32}) imported, UNENCRYPTED (dev seed)")
    cfg = GatewayConfig(
        home=str(home),
        listen=listen,
        rpc=rpc,
        rest=rest,
        key=GATEWAY_KEY,
        account=key.bech32,
        log_format="text",
    )
    cfg.validate()
    cfg.save()
    with NodeClient(rpc, timeout=30.0) as node:
        if node.balance(key.bech32) < FUND_BELOW:
            faucet = dev_key("faucet")
            send = MsgSend(
                from_address=faucet.bech32,
                to_address=key.bech32,
                amount=[Coin(denom=DENOM, amount=str(FUND))],
            )
            node.send_tx(faucet, [send], gas="auto")
            say(f"faucet sent the gateway account {FUND // VCN} VCN for its fees")
        user = dev_key(DEV_USER)
        for url in (POST_JOB, POST_TRAINING):
            if grant_left(node, user.bech32, key.bech32, url) >= GRANT_BELOW:
                continue
            grant = MsgGrant(
                granter=user.bech32,
                grantee=key.bech32,
                msg_type_url=url,
                spend_limit=Coin(denom=DENOM, amount=str(GRANT)),
            )
            node.send_tx(user, [grant], gas="auto")
            say(f"{DEV_USER} granted the gateway {url} up to {GRANT // VCN} VCN (x/authz)")
    return home


def grant_left(node: NodeClient, granter: str, grantee: str, url: str = POST_JOB) -> int:
    """What is left of ``granter``'s ``url`` grant to ``grantee`` (0: none or expired)."""
    from chain.client import QueryFailed

    req = {"granter": granter, "grantee": grantee, "msg_type_url": url}
    try:
        g = node.query("authz", "grant", req)
    except QueryFailed:
        return 0
    return 0 if g.get("expired") else int(g["spend_limit"]["amount"])


def sign_in(url: str, key: PrivateKey) -> str:
    """A session token (JWT) for ``key``'s account: challenge, ADR-036 signature, login."""
    from gateway.signin import adr036_sign_doc

    with httpx.Client(base_url=url, timeout=30.0) as c:
        r = c.get("/v1/auth/challenge", params={"address": key.bech32})
        r.raise_for_status()
        message = str(r.json()["message"])
        sig = key.sign(adr036_sign_doc(key.bech32, message.encode()))
        body = {
            "message": message,
            "signature": base64.b64encode(sig).decode(),
            "pub_key": base64.b64encode(key.public_key).decode(),
        }
        r = c.post("/v1/auth/login", json=body)
        if r.status_code != 200:
            raise RuntimeError(f"login refused ({r.status_code}): {r.text}")
        return str(r.json()["access_token"])


def new_api_key(url: str, token: str, name: str, spend_cap: int, rate_limit: int) -> str:
    """A new API key ``vk_…`` (all scopes) through ``POST /v1/keys``."""
    body = {"name": name, "spend_cap": str(spend_cap), "rate_limit": rate_limit}
    r = httpx.post(
        f"{url}/v1/keys", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )
    if r.status_code != 201:
        raise RuntimeError(f"key refused ({r.status_code}): {r.text}")
    return str(r.json()["key"])


def wait_up(url: str, pid: int, timeout: float) -> None:
    """Until ``GET /health`` answers 200; fails when process ``pid`` ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                raise RuntimeError(f"the gateway (pid {pid}) exited at start") from None
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not answer at {url} within {timeout:g}s")
        time.sleep(0.2)


def dev_api_key(vcoin_home: Path, url: str) -> str:
    """The dev user's API key: last run's while the gateway takes it, else a new one."""
    path = gateway_home(vcoin_home) / KEY_FILE
    if path.exists():
        old = path.read_text().strip()
        r = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {old}"}, timeout=30)
        if r.status_code == 200:
            return old
        say(f"the saved dev API key is refused ({r.status_code}): making a new one")
    key = new_api_key(url, sign_in(url, dev_key(DEV_USER)), "devnet", KEY_CAP, KEY_RATE)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    say(f"made a dev API key for {DEV_USER} (spend cap {KEY_CAP // VCN} VCN)")
    return key


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.testnet_gateway", description=__doc__)
    ap.add_argument("--home", required=True, help="the devnet's VCOIN_HOME")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="key, config.toml, fee money, the dev user's grant")
    p.add_argument("--rpc", required=True)
    p.add_argument("--rest", required=True)
    p.add_argument("--listen", required=True, help="host:port of the gateway")
    p = sub.add_parser("api-key", help="wait for the gateway, print the dev user's API key")
    p.add_argument("--url", required=True, help="the gateway's URL")
    p.add_argument("--pid", type=int, default=0, help="the gateway's process (fail if it ends)")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for it")
    args = ap.parse_args(argv)
    home = Path(args.home)
    try:
        if args.cmd == "prepare":
            print(prepare(home, args.rpc, args.rest, args.listen))
        else:
            wait_up(args.url, args.pid, args.wait)
            print(dev_api_key(home, args.url))
    except Exception as e:  # one line for the devnet's log, not a traceback
        print(f"app.testnet_gateway {args.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
