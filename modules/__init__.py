"""On-chain modules. Each folder has the same file set; see DESIGN.md §3."""
