"""neuronviz: neuron-level analysis of pre-trained language models.

Implements and extends Durrani, Sajjad, Dalvi and Belinkov, "Analyzing Individual Neurons in
Pre-trained Language Models" (EMNLP 2020). The package never imports streamlit; the dashboard
(``app.py``, ``pages/``) and the CLI call the same functions.
"""

__version__ = "0.1.0"

from neuronviz.cache import ActivationCache, ActivationEntry, EntryKey
from neuronviz.data import TASKS, load_task
from neuronviz.errors import CacheError, ConfigError, DataError, ModelError, NeuronvizError
from neuronviz.extract import ExtractionSettings, extract_words
from neuronviz.models import MODELS, identify_model, load_model
from neuronviz.pipeline import ExtractionResult, extract_task

__all__ = [
    "MODELS",
    "TASKS",
    "ActivationCache",
    "ActivationEntry",
    "CacheError",
    "ConfigError",
    "DataError",
    "EntryKey",
    "ExtractionResult",
    "ExtractionSettings",
    "ModelError",
    "NeuronvizError",
    "__version__",
    "extract_task",
    "extract_words",
    "identify_model",
    "load_model",
    "load_task",
]
