"""Models the devnet and the tests use, built reproducibly into artifact blobs."""
