"""Dashboard responsiveness on cached results: time to first chart per view, typed highlighting.

Usage (from the repository root, with `neuronviz probe` results in the cache):

    python bench/dashboard.py

Serves `app.py` on localhost and drives headless Chromium (Debian's `/usr/bin/chromium` with
Playwright). For each view it measures, in the browser's own clock, the time from navigation
start to the first rendered chart (or highlighted text, or table): for a full page load of the
view's URL (a new session, model and task from the query string) and for a click on the view's
sidebar link inside a running session (the selection carries over, the URL's extra parameters do
not, so layers and compare show their defaults there). Median and worst of 5 visits after one
warm-up; each visit waits until the previous page's script run has finished, so no run of an
earlier visit competes with the measured one. It also times `extract_words` on a
typed sentence of 30 words with `minilm` (model loaded, as the explorer does once it is cached).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract import environment  # noqa: E402
from neuronviz.dashboard.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard  # noqa: E402

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
    from neuronviz.extraction.extract import extract_words
    from neuronviz.models.loading import load_model

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


# Records, in the page's own clock, when each watched selector first appears; reset before an
# in-app switch so the new view's elements are timed, not the old page's.
WATCH = """
window.__marks = {};
window.__watch = %s;
window.__reset = () => {  // forget the marks, and the elements already on the page
  for (const s of window.__watch)
    document.querySelectorAll(s).forEach((e) => e.setAttribute("data-nv-old", ""));
  window.__marks = {};
  return performance.now();
};
new MutationObserver(() => {
  for (const s of window.__watch)
    if (!(s in window.__marks) && document.querySelector(s + ":not([data-nv-old])"))
      window.__marks[s] = performance.now();
}).observe(document, {subtree: true, childList: true});
"""
RUNNING = "[data-testid='stStatusWidget']"


def settle(page) -> None:
    """Wait until the page's script run has finished, so the next visit starts on a quiet server."""
    page.wait_for_timeout(300)
    page.wait_for_function(f"!document.querySelector({json.dumps(RUNNING)})", timeout=120_000)


def mark(page, selector: str) -> float:
    page.wait_for_function(f"{json.dumps(selector)} in window.__marks", timeout=60_000)
    return page.evaluate(f"window.__marks[{json.dumps(selector)}]") / 1000


def load_seconds(page, url: str, path: str, selector: str) -> tuple[float, float]:
    """A full page load (new session) to the first chart: in the page's clock (from navigation
    start) and in the bench's (from the ``goto`` call, so including the old page's unload)."""
    start = time.perf_counter()
    page.goto(f"{url}/{path}")
    seconds = mark(page, selector)
    wall = time.perf_counter() - start
    settle(page)
    return seconds, wall


def switch_seconds(page, url: str, path: str, selector: str) -> float:
    """A click on the view's sidebar link in a running session, to the view's first chart.

    The session starts on another page with a chart and the run there finished; Streamlit clears
    that page's elements on the switch.
    """
    target = path.split("?")[0]
    origin = "overview?model=minilm&task=pos" if target == "learn" else "learn"
    page.goto(f"{url}/{origin}")
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    settle(page)
    start = page.evaluate("window.__reset()") / 1000
    page.locator(f"[data-testid='stSidebarNavLink'][href$='/{target}']").click()
    page.wait_for_url(f"**/{target}*")
    seconds = mark(page, selector) - start
    settle(page)
    return seconds


def summary(times: list[float]) -> dict:
    return {"median_s": round(statistics.median(times), 2), "max_s": round(max(times), 2)}


def view_seconds(url: str, repeats: int = 5, views: list[str] | None = None) -> dict:
    """Per view: full page loads and in-app switches, median and worst of ``repeats`` after a warm-up."""
    from playwright.sync_api import sync_playwright

    selectors = sorted({selector for _, selector in VIEWS.values()} | {".js-plotly-plot"})
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(WATCH % json.dumps(selectors))
        for name, (path, selector) in VIEWS.items():
            if views is not None and name not in views:
                continue
            loads = [load_seconds(page, url, path, selector) for _ in range(repeats + 1)][1:]
            switches = [switch_seconds(page, url, path, selector) for _ in range(repeats + 1)][1:]
            out[name] = {
                "load": summary([browser_clock for browser_clock, _ in loads]),
                "load_from_goto": summary([wall for _, wall in loads]),
                "switch": summary(switches),
            }
            print(f"[view] {name}: {out[name]}", flush=True)
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", nargs="+", choices=list(VIEWS), help="only these views")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    with serve_dashboard() as url:
        report = {
            "environment": environment(),
            "command": " ".join(["python", *sys.argv]),
            "commit": _commit(),
            "views": view_seconds(url, args.repeats, args.views),
            "typed_highlight": typed_highlight_seconds(),
        }
    print(f"[typed] {report['typed_highlight']}")
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    main()
