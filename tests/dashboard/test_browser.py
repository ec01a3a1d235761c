"""The dashboard in a real browser: served on localhost, driven by headless Chromium (Playwright)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from neuronviz.analyses.run import run_analysis
from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.dashboard.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard

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


SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img" / "browser"


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


def test_a_fresh_dashboard_shows_a_preview_then_the_full_result(tiny_bert, data_dir, tmp_path):
    """The first run as a newcomer sees it: an empty cache, the Start page queues a preview and
    the full analysis; Overview first shows a chart labelled as a preview, then the full one."""
    from playwright.sync_api import sync_playwright

    from neuronviz.dashboard.jobs import JobStore

    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    cache = tmp_path / "cache"
    env = {
        "NEURONVIZ_CACHE": str(cache),
        "NEURONVIZ_DATA": str(data_dir),
        "NEURONVIZ_AUTOSTART": "1",
        "NEURONVIZ_FIRST_RUN_MODELS": str(tiny_bert),
        "NEURONVIZ_FIRST_RUN_TASKS": "pos",
        "NEURONVIZ_PREVIEW_SENTENCES": "12",
    }
    store = JobStore(cache)
    overview = "overview?model=bert&task=pos"
    try:
        with serve_dashboard(env) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("Analyses: queue").wait_for(timeout=60_000)
            assert min(store.all(), key=lambda j: j.order).request.preview  # previews first
            full = next(j for j in store.all() if not j.request.preview)
            # The full analysis of a tiny model can be quick: its worker is held (SIGSTOP) as
            # soon as it starts, so the preview is on screen for sure, and let go afterwards.
            deadline = time.time() + 120
            while (pid := store.get(full.job_id).pid) is None:
                assert time.time() < deadline, "the full analysis did not start"
                time.sleep(0.05)
            os.killpg(pid, signal.SIGSTOP)
            assert store.get(full.job_id).state in ("queued", "running")

            def chart_title(timeout: float) -> str:
                # A page run can take tens of seconds on two cores busy with the analysis:
                # each load gets the whole wait rather than being reloaded every few seconds.
                deadline = time.time() + timeout
                while time.time() < deadline:
                    page.goto(f"{url}/{overview}")
                    try:
                        page.locator(".js-plotly-plot .gtitle").first.wait_for(timeout=45_000)
                        # (an SVG text: it has text content, not inner text)
                        return page.locator(".js-plotly-plot .gtitle").first.text_content()
                    except Exception:
                        time.sleep(1)
                states = [(j.label, j.state, j.error) for j in store.all()]
                raise AssertionError(f"no chart on Overview; jobs: {states}")

            try:
                title = chart_title(120)
                assert "PREVIEW" in title and "bert x pos" in title
                assert "Preview of" in page.inner_text("body")  # the box above the charts
            finally:
                os.killpg(pid, signal.SIGCONT)
            deadline = time.time() + 240
            while store.get(full.job_id).state in ("queued", "running"):
                assert time.time() < deadline, "the full analysis did not finish"
                time.sleep(1)
            assert store.get(full.job_id).state == "done"
            title = chart_title(60)
            assert "PREVIEW" not in title and "bert x pos" in title
            assert "**Preview**" not in page.inner_text("body")
            assert "Preview of" not in page.inner_text("body")
            browser.close()
    finally:
        for job in store.all():
            store.cancel(job.job_id)
