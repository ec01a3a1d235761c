"""Where the work runs: this process (local) or a Ray cluster."""
