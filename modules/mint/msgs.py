"""The mint module has no messages of its own (see ``handlers.py``)."""
