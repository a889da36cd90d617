"""Compute shared by the worker and the oracle: the job spec, the job runtime and the sandbox."""
