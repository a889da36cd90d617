"""``vcoind tx authz grant|revoke|exec`` and ``vcoind query authz grants|grant|params``
(see chain/cli/__init__.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.any_pb2 import Any as AnyPb

from chain.cli.common import CliError, Env, add_tx_flags, broadcast, fmt_vcn, parse_amount_avcn
from chain.coins import DENOM, DISPLAY
from modules.authz.msgs import MsgExec, MsgGrant, MsgRevoke

# Short names of the grantable types (their full type URLs work too).
ALIASES = {
    "post-job": "/vcoin.jobs.v1.MsgPostJob",
    "cancel-job": "/vcoin.jobs.v1.MsgCancelJob",
    "post-training": "/vcoin.training.v1.MsgPostTraining",
    "cancel-training": "/vcoin.training.v1.MsgCancelTraining",
}


TRAINING_URL = ALIASES["post-training"]


def type_url_of(text: str) -> str:
    return ALIASES.get(text, text)


def _type_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "msg_type",
        metavar="TYPE",
        help="post-job, cancel-job, post-training, cancel-training, or a full type URL "
        "(/vcoin.jobs.v1.MsgPostJob)",
    )


def register_tx(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "authz",
        help="let another key post and cancel jobs and trainings for you, within a spend limit",
    )
    sub = p.add_subparsers(dest="authz_cmd", required=True, metavar="COMMAND")
    grant = sub.add_parser(
        "grant",
        help="let GRANTEE send TYPE messages for the --from key",
        description="The --from key (the granter) lets GRANTEE send messages of TYPE on its "
        "behalf: post-job (each spends its max price, escrowed from the granter, out of "
        "--spend-limit) or cancel-job (spends nothing; the refund goes to the granter); "
        "post-training (each spends its whole escrow, rounds × (shards × price per shard + "
        "aggregate price), paid by the granter, who gets every refund) or cancel-training "
        "(spends nothing). A new grant for the same grantee and type replaces the old one, its "
        "remaining limit too.",
    )
    grant.add_argument("grantee", metavar="GRANTEE", help="vcoin1… address or key name")
    _type_arg(grant)
    grant.add_argument("--spend-limit", default="", help="e.g. 20VCN (default none: 0)")
    grant.add_argument(
        "--expiration-height",
        type=int,
        default=0,
        help="last block height the grant can be used at (default 0: no expiry)",
    )
    add_tx_flags(grant)
    grant.set_defaults(func=run_grant)
    revoke = sub.add_parser(
        "revoke",
        help="remove a grant at once",
        description="The --from key (the granter) removes its grant of TYPE to GRANTEE.",
    )
    revoke.add_argument("grantee", metavar="GRANTEE", help="vcoin1… address or key name")
    _type_arg(revoke)
    add_tx_flags(revoke)
    revoke.set_defaults(func=run_revoke)
    ex = sub.add_parser(
        "exec",
        help="send messages for the granters that granted the --from key",
        description="The --from key (the grantee) runs MSGS_FILE's messages: a JSON list of "
        "messages in protobuf JSON, each with its @type, e.g. "
        '[{"@type": "/vcoin.jobs.v1.MsgPostJob", "poster": "vcoin1…granter", …}]. '
        "Each message's signer must be a granter that granted the --from key its type; all "
        "run or none does. `-` reads the file from standard input. Its gas is simulated "
        "(--gas auto) unless --gas names a limit: a post training writes a round of jobs.",
    )
    ex.add_argument("msgs_file", metavar="MSGS_FILE", help="JSON file of messages, or -")
    add_tx_flags(ex)
    ex.set_defaults(func=run_exec, gas="auto")


def register_query(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("authz", help="grants: who may send what for whom")
    sub = p.add_subparsers(dest="authz_query", required=True, metavar="WHAT")
    gs = sub.add_parser("grants", help="the grants of a granter, or to a grantee")
    gs.add_argument("--granter", help="vcoin1… address or key name")
    gs.add_argument("--grantee", help="vcoin1… address or key name")
    gs.set_defaults(func=run_grants)
    g = sub.add_parser("grant", help="one grant and its remaining spend limit")
    g.add_argument("granter", metavar="GRANTER", help="vcoin1… address or key name")
    g.add_argument("grantee", metavar="GRANTEE", help="vcoin1… address or key name")
    _type_arg(g)
    g.set_defaults(func=run_grant_query)
    pr = sub.add_parser("params", help="the authz params")
    pr.set_defaults(func=run_params)


def run_grant(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    if args.expiration_height < 0:
        raise CliError("--expiration-height is a block height ≥ 0")
    msg = MsgGrant(
        granter=key.bech32,
        grantee=env.resolve_address(args.grantee),
        msg_type_url=type_url_of(args.msg_type),
        expiration_height=args.expiration_height,
    )
    limit = parse_amount_avcn(args.spend_limit, "--spend-limit") if args.spend_limit else 0
    if limit:
        msg.spend_limit.denom = DENOM
        msg.spend_limit.amount = str(limit)
    return broadcast(env, args, key, [msg])


def run_revoke(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    msg = MsgRevoke(
        granter=key.bech32,
        grantee=env.resolve_address(args.grantee),
        msg_type_url=type_url_of(args.msg_type),
    )
    return broadcast(env, args, key, [msg])


def load_msgs(text: str) -> list[AnyPb]:
    """The messages of an exec file, each packed in an Any."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise CliError(f"MSGS_FILE is not JSON: {e}") from e
    items = data if isinstance(data, list) else [data]
    out = []
    for i, d in enumerate(items):
        if not isinstance(d, dict) or "@type" not in d:
            raise CliError(f"message {i}: a JSON object with its @type")
        a = AnyPb()
        try:
            json_format.ParseDict(d, a)
        except (json_format.ParseError, TypeError, KeyError) as e:
            raise CliError(f"message {i}: {e}") from e
        out.append(a)
    if not out:
        raise CliError("MSGS_FILE holds no messages")
    return out


def run_exec(args: argparse.Namespace, env: Env) -> int:
    key = env.signing_key(args.from_key, args.passphrase_file)
    text = sys.stdin.read() if args.msgs_file == "-" else Path(args.msgs_file).read_text()
    msg = MsgExec(grantee=key.bech32, msgs=load_msgs(text))
    training = any(a.type_url == TRAINING_URL for a in msg.msgs)
    show = "TrainingPosted.training_id" if training else "JobPosted.job_id"
    return broadcast(env, args, key, [msg], show=show)


def _line(g: dict[str, Any]) -> str:
    exp = g["expiration_height"]
    until = "no expiry" if exp == "0" else f"until height {exp}"
    if g.get("expired"):
        until = f"expired at height {exp}"
    left = fmt_vcn(int(g["spend_limit"]["amount"]))
    return f"{g['granter']} → {g['grantee']}: {g['msg_type_url']}, {left} {DISPLAY} left, {until}"


def run_grants(args: argparse.Namespace, env: Env) -> None:
    req: dict[str, Any] = {}
    if args.granter:
        req["granter"] = env.resolve_address(args.granter)
    if args.grantee:
        req["grantee"] = env.resolve_address(args.grantee)
    if not req:
        raise CliError("give --granter, --grantee or both")
    out = env.client().query("authz", "grants", req)
    env.emit(out, lambda: "\n".join(_line(g) for g in out["grants"]) or "no grants")


def run_grant_query(args: argparse.Namespace, env: Env) -> None:
    req = {
        "granter": env.resolve_address(args.granter),
        "grantee": env.resolve_address(args.grantee),
        "msg_type_url": type_url_of(args.msg_type),
    }
    out = env.client().query("authz", "grant", req)
    env.emit(out, lambda: _line(out))


def run_params(args: argparse.Namespace, env: Env) -> None:
    out = env.client().query("authz", "params")
    env.emit(out, lambda: f"max_exec_msgs {out['max_exec_msgs']}")
