"""The mint module has no messages: it mints in end_block, and its emission
changes only through auth's ``MsgUpdateParams`` signed by the platform authority."""
