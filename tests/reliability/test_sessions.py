"""Several people on one dashboard at once: five browser sessions load different views together."""

from __future__ import annotations

import os

import pytest

from neuronviz.dashboard.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWS = {
    "overview?model=bert&task=pos": ".js-plotly-plot",
    "heatmap?model=bert&task=chunk": ".js-plotly-plot",
    "layers?model=bert&task=pos,chunk": ".js-plotly-plot",
    "explorer?model=gpt2&task=pos&neuron=1:3": "span[title]",
    "deep_dive?model=bert&task=pos": ".js-plotly-plot",
}


def test_five_sessions_at_once(analysed):
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium for the browser tests (see .ci/run)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with serve_dashboard({"NEURONVIZ_CACHE": str(analysed)}) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        pages = [browser.new_context().new_page() for _ in VIEWS]  # one session each
        for page, path in zip(pages, VIEWS, strict=True):
            page.goto(f"{url}/{path}", wait_until="commit")  # all five runs overlap
        for page, selector in zip(pages, VIEWS.values(), strict=True):
            page.locator(selector).first.wait_for(timeout=90_000)
            assert page.locator("[data-testid='stException']").count() == 0
        assert "neuron=1%3A3" in pages[3].url or "neuron=1:3" in pages[3].url
        assert "task=chunk" in pages[1].url and "model=gpt2" in pages[3].url  # own selections
        browser.close()
