"""Job runtime: runs inside the sandbox."""
