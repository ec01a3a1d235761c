"""Language models: the registry, loading and checks, devices, and what each architecture looks like."""
