"""The dashboard in a real browser: served on localhost, driven by headless Chromium (Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neuronviz.analysis import AnalysisSettings, run_analysis
from neuronviz.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tiny_models, data_dir, tmp_path_factory):
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium for the browser test (see .ci/run)")
        pytest.skip("chromium is not installed")
    cache = tmp_path_factory.mktemp("browser-cache")
    settings = AnalysisSettings(
        lambdas=((1e-3, 1e-3),), grid_words=500, percents=(5, 20), random_draws=2
    )
    run_analysis(str(tiny_models["bert"]), "pos", settings=settings, cache=cache, data_dir=data_dir)
    with serve_dashboard({"NEURONVIZ_CACHE": str(cache)}) as url:
        yield url


def test_open_result_select_neuron_and_see_highlighting(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.get_by_text("Ready to explore").wait_for(timeout=60_000)
        page.get_by_text("Open bert x pos").click()
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        assert "model=bert" in page.url and "task=pos" in page.url
        page.goto(f"{server}/explorer?model=bert&task=pos&neuron=2:5")
        page.get_by_text("Where it fires most").wait_for(timeout=60_000)
        page.locator("span[title]").first.wait_for(timeout=60_000)
        assert page.locator("span[title]").count() > 10
        assert "Neuron 2:5" in page.content()
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        browser.close()
    assert (tmp_path / "explorer.png").stat().st_size > 10_000


SHOTS = Path(__file__).resolve().parents[1] / "docs" / "img" / "browser"


def test_neuron_card_learn_page_and_presentation_mode(server):
    """Visits the depth views in a real browser and saves a screenshot of each into docs/."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/neuron?model=bert&q=the")
        page.get_by_text("Neurons that fire most on 'the'").wait_for(timeout=60_000)
        page.get_by_text("in the neuron explorer").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "neuron-card.png"), full_page=True)
        page.goto(f"{server}/learn")
        page.get_by_text("Try it: a toy model with 24 neurons").wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "learn.png"), full_page=True)
        page.goto(f"{server}/overview?model=bert&task=pos&present=1")
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        size = page.evaluate("getComputedStyle(document.querySelector('h1')).fontSize")
        assert float(size.removesuffix("px")) >= 44  # 3rem at 22px type
        page.screenshot(path=str(SHOTS / "presentation.png"), full_page=True)
        browser.close()
    for name in ("neuron-card", "learn", "presentation"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
