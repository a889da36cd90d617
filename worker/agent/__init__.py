"""The worker agent: the ``vcoin-worker`` daemon that claims, runs and submits jobs."""
