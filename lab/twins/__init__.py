"""Phone twins: the vendors' remote-control HTTP APIs served here, acting through softphones."""
