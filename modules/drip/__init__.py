"""The drip module: a protocol-held pool that hands each new key one drip.

Why it exists: a canary's poster key has to be funded, and a transfer from
the oracle that posts it tells every worker which jobs are canaries. The pool
funds real users' keys and canary poster keys the same way, so a poster's
funding path says nothing about who posted (``oracle/README.md``, "Canaries
that cannot be told apart").

    MsgFundPool(depositor, amount)  anyone adds coins: oracles their canary
                                    budget in bulk, posters their leftovers
    MsgClaimDrip(recipient)         a key takes ``drip_amount`` for itself,
                                    once per address, at most
                                    ``max_drips_per_block`` per block

A brand-new key has no coins for a fee, so its first tx may be a lone
``MsgClaimDrip`` with no fee, signed for account number 0 and sequence 0: the
pool sponsors it (``ante.py``). Nobody else signs anything that names the
key, so the chain shows the same thing for every drip: a key that appeared
from nowhere and took one drip. Integers only; the rate limit counts drips
per block height.
"""

from modules.drip.keys import NAME
from modules.drip.module import build

__all__ = ["NAME", "build"]
