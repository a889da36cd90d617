"""Helpers shared by the tests (fixtures live in the ``conftest.py`` files).

* ``chain``: an App driven block by block (``Chain``), dev and test keys, ``make_genesis``.
* ``stake``: ``StakeChain``, a ``Chain`` that checks the invariants after every block, with
  builders for the staking, reputation, slashing and mint messages and a keeper hook.
* ``market``: ``Market``, a ``StakeChain`` for the marketplace (jobs, verification).
* ``genesis``: ``market_genesis``, the marketplace genesis of every kind of test.
* ``nodes``: a real ``vcoind start`` process, or a ``Node`` in this process, on free ports.
* ``node_market``: ``NodeMarket``, the marketplace on a running node, over its RPC.
* ``artifacts``: a real artifact store process.
* ``wait``: ``wait_for``, polling a condition until it holds or a deadline passes.
"""
