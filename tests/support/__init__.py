"""Helpers shared by the tests (fixtures live in the ``conftest.py`` files).

* ``wait``: ``wait_for``, polling a condition until it holds or a deadline passes.
* ``nodes``: a real ``vcoind start`` process, or a ``Node`` in this process, on free ports.
* ``artifacts``: a real artifact store process.
"""
