"""From a model and a corpus to every neuron's activation for every word, written to the cache."""
