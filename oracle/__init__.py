"""vcoin-oracle: re-execution, canaries, similarity metrics, signed attestations (README.md)."""
