"""The authz module: non-custodial spending on a user's behalf, enforced by the chain.

The cosmos ``x/authz`` shape, narrowed to what a gateway needs to post jobs
for its users within a budget:

    MsgGrant(granter, grantee, msg_type_url, spend_limit, expiration_height)
        the granter lets the grantee send messages of one grantable type
        (the jobs module's post job and cancel job, the training module's post
        training and cancel training) on its behalf, up to ``spend_limit`` of
        escrow in all, until ``expiration_height``
        (inclusive; 0: none). A new grant for the same triple replaces the old.
    MsgRevoke(granter, grantee, msg_type_url)
        removes the grant at once.
    MsgExec(grantee, msgs)
        the grantee runs the inner messages, each signed (in its content) by a
        granter that granted this grantee its type. Each runs through the app's
        own handler as if its granter had sent it: the escrow and any refund
        stay the granter's; the grantee pays only the tx fee. What a message
        spends (a post job's escrow, its max price; a post training's whole
        escrow, rounds × (shards × price_per_shard + aggregate_price), taken at
        once at the post) comes off the grant's
        remaining limit; a message over it, an expired grant or any failing
        inner message refuses the whole MsgExec and nothing of it is applied.

Which types are grantable, and what each spends, is registered by the app's
wiring (``AuthzKeeper.allow``): this module imports no other module. The
routes of the inner messages are the app's route table, handed over by the
wiring too (``AuthzKeeper.set_routes``). Expiry is by block height, never by
time; the end-block hook removes grants that expired before the block. An
inner message signed by the grantee itself is refused (send it directly); so
is a MsgExec inside a MsgExec (not grantable).
"""

from modules.authz.keys import NAME
from modules.authz.module import build

__all__ = ["NAME", "build"]
