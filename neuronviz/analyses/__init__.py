"""The analyses built on probes: lambda search, minimal sets and curves, layers, stability, previews, neuron cards."""
