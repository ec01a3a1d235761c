"""Checks of a model's files and configuration before anything is loaded."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from neuronviz.errors import ModelError
from neuronviz.models.checks import MAX_LAYERS, check_config, check_model_files


def _config(**fields):
    return SimpleNamespace(**{"num_hidden_layers": 2, "hidden_size": 8, "vocab_size": 50, **fields})


def test_a_usable_configuration_passes_and_a_broken_one_names_its_field():
    check_config("m", _config())
    check_config("m", _config(vocab_size=None))  # not every text model has the field
    with pytest.raises(ModelError, match="hidden_size = 0"):
        check_config("m", _config(hidden_size=0))
    with pytest.raises(ModelError, match="num_hidden_layers = True"):
        check_config("m", _config(num_hidden_layers=True))
    with pytest.raises(ModelError, match=f"at most {MAX_LAYERS}"):
        check_config("m", _config(num_hidden_layers=MAX_LAYERS + 1))


def test_a_model_folder_holding_a_fifo_is_refused_before_loading(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    check_model_files(tmp_path)
    os.mkfifo(tmp_path / "tokenizer.json")
    with pytest.raises(ModelError, match=r"tokenizer\.json is a FIFO"):
        check_model_files(tmp_path)
