"""The slashing module has no messages of its own; its params change through
auth's ``MsgUpdateParams`` with ``module = "slashing"``."""
