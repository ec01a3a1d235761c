"""Everything neuronviz keeps on disk: activations, analysis results, checkpoints and bundles, each read only after its checksum matches."""
