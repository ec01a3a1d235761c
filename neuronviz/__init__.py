"""neuronviz: neuron-level analysis of pre-trained language models.

Implements and extends Durrani, Sajjad, Dalvi and Belinkov, "Analyzing Individual Neurons in
Pre-trained Language Models" (EMNLP 2020). The package never imports streamlit; the dashboard
(``app.py``, ``pages/``) and the CLI call the same functions.
"""

import importlib

from neuronviz.settings import apply_offline
from neuronviz.version import __version__

apply_offline()  # before transformers is imported anywhere: it reads its offline switch once

# The public names, imported on first use (PEP 562): `import neuronviz.store`, `neuronviz --help`
# and `neuronviz cache list` do not load torch and transformers.
_EXPORTS = {
    "ActivationCache": "neuronviz.store.activation_cache",
    "ActivationEntry": "neuronviz.store.activations",
    "EntryKey": "neuronviz.store.manifests",
    "TASKS": "neuronviz.corpora",
    "load_task": "neuronviz.corpora",
    "CacheError": "neuronviz.errors",
    "ConfigError": "neuronviz.errors",
    "DataError": "neuronviz.errors",
    "ModelError": "neuronviz.errors",
    "NeuronvizError": "neuronviz.errors",
    "ExtractionSettings": "neuronviz.extraction.extract",
    "extract_words": "neuronviz.extraction.extract",
    "MODELS": "neuronviz.models.registry",
    "identify_model": "neuronviz.models.loading",
    "load_model": "neuronviz.models.loading",
    "ExtractionResult": "neuronviz.extraction.fill_cache",
    "extract_task": "neuronviz.extraction.fill_cache",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'neuronviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
