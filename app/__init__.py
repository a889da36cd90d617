"""The VCoin application assembly: which modules run, in which order, wired how; the node's entry points."""
