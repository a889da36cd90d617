"""``vcoind``: the command tree (chain/cli/__init__.py has the framework and plugin contract)."""
