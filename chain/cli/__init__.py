"""The command-line framework of ``vcoind`` (argparse, no extra deps).

Here: ``common.py``, what every command shares (the ``Env`` with home, node
client, keystore and output format; the tx flags and ``broadcast``), and
``keys_cmd``, the keystore commands. The command tree itself is assembled in
``app/cli/``: ``main.py`` builds the parser and maps errors to exit codes, one
file per command group (``init_cmd``, ``start_cmd``, ``tx_cmd``,
``query_cmd``, ``genesis_cmd``), and ``plugins.py`` adds every module's own
commands.

Every leaf command takes ``--home`` (env VCOIN_HOME, default ~/.vcoin),
``--node`` (env VCOIN_NODE, default http://127.0.0.1:26657) and
``--output text|json``, before or after the command words.

Adding commands for a module
----------------------------
A module adds its own ``tx`` and ``query`` commands by shipping
``modules/<name>/cli.py`` with either or both of::

    def register_tx(subparsers: argparse._SubParsersAction) -> None: ...
    def register_query(subparsers: argparse._SubParsersAction) -> None: ...

``vcoind`` imports ``modules.<name>.cli`` for every module named in
``app.wiring.build().modules`` and calls these with the ``vcoind tx`` and
``vcoind query`` sub-command sets; no file under ``app/cli`` needs editing.
In them, add one group per module (``vcoind tx jobs post ...``)::

    from chain.cli.common import Env, add_tx_flags, broadcast

    def register_tx(subparsers):
        p = subparsers.add_parser("jobs", help="post, claim and settle jobs")
        sub = p.add_subparsers(dest="jobs_cmd", required=True, metavar="COMMAND")
        post = sub.add_parser("post", help="...", description="...")
        post.add_argument("model")
        add_tx_flags(post)                    # --from, --fees, --gas, --memo, --yes, ...
        post.set_defaults(func=run_post)

    def run_post(args, env: Env) -> int:
        key = env.signing_key(args.from_key, args.passphrase_file)
        return broadcast(env, args, key, [MsgPostJob(...)])

A handler is ``func(args, env) -> int | None`` (the exit code; None means 0)
and may raise ``chain.cli.common.CliError`` for a user mistake. The global
options are added to plugin commands automatically. Queries use
``env.client().query(module, name, {...})`` and print with ``env.emit``.
"""
