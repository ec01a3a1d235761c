"""Dashboard pages through Streamlit's AppTest, on a tiny model and a small cached result."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuronviz.figures import activation_heatmap, token_highlight_html
from neuronviz.pipeline import extract_task

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_home_page_lists_models_and_tasks():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "neuronviz"
    assert len(at.dataframe) == 2


def test_activations_page_on_a_tiny_model(tiny_bert):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/activations.py").run()
    at.selectbox(key="act_model").set_value("other...").run()
    at.text_input(key="act_model_path").input(str(tiny_bert)).run()
    assert not at.exception, at.exception
    assert at.caption[0].value.startswith("bert: 3 layers")
    at.text_input(key="act_neuron").input("2:5").run()
    assert not at.exception
    assert any("Neuron 2:5" in s.value for s in at.subheader)
    at.text_input(key="act_neuron").input("9:99").run()
    assert "outside the model" in at.error[0].value


def test_activations_page_reports_unknown_model_without_traceback():
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/activations.py").run()
    at.selectbox(key="act_model").set_value("other...").run()
    at.text_input(key="act_model_path").input("no such model").run()
    assert not at.exception
    assert "unknown model" in at.error[0].value


def test_cache_page_lists_entries(tiny_bert, data_dir, cache_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/cached_data.py").run()
    assert "Nothing extracted yet" in at.info[0].value
    extract_task(str(tiny_bert), "pos", data_dir=data_dir, cache=cache_dir)
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 3


def test_token_highlighting_escapes_markup():
    out = token_highlight_html(["<script>alert(1)</script>", "&"], [1.0, -1.0])
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp;" in out
    with pytest.raises(ValueError):
        token_highlight_html(["a"], [1.0, 2.0])


def test_activation_heatmap_shape_and_labels():
    import numpy as np

    fig = activation_heatmap(["a", "b", "c"], np.arange(6).reshape(2, 3), ["0:1", "3:4"])
    assert list(fig.data[0].y) == ["0:1", "3:4"] and fig.data[0].z.shape == (2, 3)
