"""The ``neuronviz`` command line."""
