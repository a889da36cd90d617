"""vcoin-gateway: the user-facing API of a VCoin node.

Wallets sign in (EIP-4361 for 0x keys, ADR-036 for vcoin1 keys) and get a short-lived
session token (JWT); with it they create, list and revoke API keys, each with scopes,
a spend cap within their authz grant to the gateway's account, and a rate limit.
Requests with ``Authorization: Bearer vk_…`` reach the OpenAI-compatible routes
(``GET /v1/models`` so far). OpenAPI docs at /docs, Prometheus metrics at /metrics.

Settings: defaults < HOME/config.toml < VCOIN_GATEWAY_<NAME> env < flags
(``vcoin-gateway init`` writes a commented config.toml). Logs are JSON lines on
stderr. SIGTERM or Ctrl-C stops taking connections, lets running requests finish
and closes the store.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from typing import Any

from gateway.config import DOCS, HOME_ENV, ConfigError, GatewayConfig

FLAGS = tuple(DOCS)


def _cfg(args: argparse.Namespace) -> GatewayConfig:
    overrides: dict[str, Any] = {k: getattr(args, k, None) for k in FLAGS}
    return GatewayConfig.load(args.home, overrides)


def cmd_init(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    if cfg.file.exists() and not args.force:
        print(f"{cfg.file} exists (--force to overwrite)", file=sys.stderr)
        return 1
    print(f"wrote {cfg.save()}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    import uvicorn

    from chain.logs import setup_logging
    from gateway.app import create_app

    cfg = _cfg(args)
    setup_logging(cfg.log_level, cfg.log_format)
    log = logging.getLogger("vcoin.gateway")
    app = create_app(cfg)
    host, _, port = cfg.listen.rpartition(":")
    log.info("listening on http://%s (docs /docs, metrics /metrics)", cfg.listen)
    config = uvicorn.Config(
        app,
        host=host,
        port=int(port),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    # SIGTERM or Ctrl-C: stop taking connections, let running requests finish, then the
    # app's lifespan closes the store; exit 0 (uvicorn's own handlers re-raise the signal
    # once done, which would end the process with -15). A second signal exits at once.
    def on_signal(signum: int, _frame: object) -> None:
        if server.should_exit:
            server.force_exit = True
        log.info("received %s: shutting down", signal.Signals(signum).name)
        server.should_exit = True

    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.run()
    log.info("stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(
        prog="vcoin-gateway",
        description=doc.split("\n\n")[0],
        epilog="\n\n".join(doc.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--home", help=f"gateway home (default ${HOME_ENV} or ~/.vcoin-gateway)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def flags(p: argparse.ArgumentParser) -> None:
        for name, help_ in DOCS.items():
            kind = int if name.endswith(("_s", "_limit", "_id")) else str
            p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=help_)

    p = sub.add_parser("init", help="write HOME/config.toml with every setting explained")
    p.add_argument("--force", action="store_true", help="overwrite an existing config.toml")
    flags(p)
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("start", help="serve the API")
    flags(p)
    p.set_defaults(func=cmd_start)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"vcoin-gateway: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
