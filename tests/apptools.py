"""Helpers for dashboard tests: the app's path, fast analysis settings and opening a page."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from neuronviz.analyses.settings import AnalysisSettings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
FAST = AnalysisSettings(
    lambdas=((1e-3, 1e-3), (0.0, 0.0)), grid_words=500, percents=(5, 20), random_draws=2
)


def open_page(at: AppTest, page: str, **params) -> AppTest:
    """Run ``pages/<page>.py`` inside ``app.py`` with the given query parameters."""
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at
