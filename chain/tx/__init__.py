"""Transaction envelopes: decoding, signing and routing by type."""
