"""Genesis documents: the devnet's embedded defaults and the file format."""
