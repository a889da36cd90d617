"""auth: accounts, sequences, public keys, module accounts and the platform authority."""

from modules.auth.keys import NAME
from modules.auth.module import build

__all__ = ["NAME", "build"]
