"""VCoin's message types, generated from proto/ by sdk/python/protogen.py."""
