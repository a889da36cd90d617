"""The VCoin application assembly, above the modules.

``wiring.py`` builds the keepers and lists the modules in the order their
hooks run; ``app.py`` puts them on the base app behind auth's ante handler;
``node.py`` runs the app as a node; ``cli/`` is ``vcoind``.
"""
