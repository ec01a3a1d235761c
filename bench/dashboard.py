"""Dashboard responsiveness on cached results: time to first chart per view, typed highlighting.

Usage (from the repository root, with `neuronviz probe` results in the cache):

    python bench/dashboard.py

Serves `app.py` on localhost and drives headless Chromium (Debian's `/usr/bin/chromium` with
Playwright). For each view it measures, from `page.goto` of its URL (a navigation with the
model and task in the query string: a new session) to the first rendered chart or highlighted
text, the median of 5 visits after one warm-up visit; and the same from a click on the view's
sidebar link inside a running session (the selection carries over, the URL's extra parameters
do not, so layers and compare show their defaults there). It also times `extract_words` on a
typed sentence of 30 words with `minilm` (model loaded, as the explorer does once it is cached).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract import environment  # noqa: E402
from neuronviz.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard  # noqa: E402

VIEWS = {
    "overview": ("overview?model=minilm&task=pos", ".js-plotly-plot"),
    "top neurons": ("heatmap?model=minilm&task=pos", ".js-plotly-plot"),
    "layers": ("layers?model=minilm&task=pos,chunk,sem,ccg", ".js-plotly-plot"),
    "compare": ("compare?models=minilm,smollm2-135m&task=sem", ".js-plotly-plot"),
    "deep dive": ("deep_dive?model=minilm&task=pos", ".js-plotly-plot"),
    "explorer": ("explorer?model=minilm&task=pos&neuron=1:62", "span[title]"),
    "neuron card": ("neuron?model=minilm&q=the", "[data-testid='stDataFrame']"),
    "learn": ("learn", ".js-plotly-plot"),
}
SENTENCE = [
    "The",
    "committee",
    "said",
    "on",
    "Tuesday",
    "that",
    "the",
    "new",
    "rules",
    ",",
    "which",
    "were",
    "proposed",
    "last",
    "year",
    ",",
    "would",
    "take",
    "effect",
    "in",
    "March",
    "despite",
    "strong",
    "objections",
    "from",
    "several",
    "banks",
    ".",
]


def typed_highlight_seconds(repeats: int = 5) -> dict:
    from neuronviz.extract import extract_words
    from neuronviz.models import load_model

    model = load_model("minilm", device="cpu")
    words = (SENTENCE * 2)[:30]
    extract_words(model, [words])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        extract_words(model, [words])
        times.append(time.perf_counter() - start)
    return {
        "words": len(words),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
    }


def switch_seconds(page, url: str, path: str, selector: str, repeats: int) -> list[float]:
    """Seconds from a click on the view's sidebar link (in a running session) to its first chart.

    The session starts on another page with a chart; Streamlit clears that page's elements on
    the switch, so the selector can only match the new view's.
    """
    target = path.split("?")[0]
    origin = "overview?model=minilm&task=pos" if target == "learn" else "learn"
    times = []
    for i in range(repeats + 1):
        page.goto(f"{url}/{origin}")
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        start = time.perf_counter()
        page.locator(f"[data-testid='stSidebarNavLink'][href$='/{target}']").click()
        page.wait_for_url(f"**/{target}*")
        page.locator(selector).first.wait_for(timeout=60_000)
        if i:
            times.append(time.perf_counter() - start)
    return times


def view_seconds(url: str, repeats: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, (path, selector) in VIEWS.items():
            times = []
            for i in range(repeats + 1):
                start = time.perf_counter()
                page.goto(f"{url}/{path}")
                page.locator(selector).first.wait_for(timeout=60_000)
                if i:  # the first visit warms caches (model, results)
                    times.append(time.perf_counter() - start)
            switches = switch_seconds(page, url, path, selector, repeats)
            out[name] = {
                "median_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2),
                "switch_median_s": round(statistics.median(switches), 2),
                "switch_max_s": round(max(switches), 2),
            }
            print(f"[view] {name}: {out[name]}", flush=True)
        browser.close()
    return out


def main() -> None:
    with serve_dashboard() as url:
        report = {
            "environment": environment(),
            "views": view_seconds(url),
            "typed_highlight": typed_highlight_seconds(),
        }
    print(f"[typed] {report['typed_highlight']}")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
