"""The slashing module has no messages: its punishments are called by jobs and
verification when a verdict or a deadline says so (see ``keeper.py``)."""
