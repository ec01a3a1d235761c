"""The first minute: a fresh dashboard on an empty cache, timed as a newcomer sees it.

Starts ``streamlit run app.py`` (auto-start on, as ``make run`` leaves it) on an empty cache and
drives headless Chromium against it, recording from the moment the server process starts:

- ``first_chart_s``: the Overview page first shows a chart (a preview's curves);
- ``all_views_s``: every view (Overview, Top neurons, Layers, Compare models, Paper, the
  explorer, the neuron card) shows content of both default models, checked in the browser;
- ``previews_s``: every queued preview is done;
- ``full_pos_s``: the full minilm x pos analysis is done (with ``--full``), and how long its
  job ran.

    NEURONVIZ_DATA=../shared/data python bench/first_run.py --full --json first-run.json

Needs the corpora and Chromium (Debian's). The cache is a fresh temporary folder (model
conversion and extraction included); the jobs left in the queue are cancelled at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neuronviz.dashboard.jobs import JobStore  # noqa: E402
from neuronviz.dashboard.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard  # noqa: E402

MODELS = ("minilm", "smollm2-135m")
# A view shows a model's results when its main element is there and no "nothing yet" note.
VIEWS = {
    "overview": ("overview?model={m}&task=pos", ".js-plotly-plot"),
    "heatmap": ("heatmap?model={m}&task=pos", ".js-plotly-plot"),
    "layers": ("layers?model={m}&task=pos", ".js-plotly-plot"),
    "explorer": ("explorer?model={m}&task=pos", ".js-plotly-plot"),
    "neuron": ("neuron?model={m}&q=the", "[data-testid='stDataFrame']"),
    "compare": ("compare?models=minilm,smollm2-135m", ".js-plotly-plot"),
    "paper": ("paper?models=minilm,smollm2-135m", "[data-testid='stExpander']"),
}


def shows(page, url: str, path: str, selector: str, timeout: float = 30.0) -> bool:
    page.goto(f"{url}/{path}")
    try:
        page.wait_for_selector(selector, timeout=timeout * 1000)
    except Exception:
        return False
    return "No analysis has finished yet" not in page.inner_text("body")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also wait for full minilm x pos")
    parser.add_argument("--limit", type=float, default=3600, help="give up after this many s")
    parser.add_argument("--json", help="write the times here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    cache = Path(tempfile.mkdtemp(prefix="neuronviz-first-run-"))
    store = JobStore(cache)
    times: dict = {}
    t0 = time.time()

    def at() -> float:
        return round(time.time() - t0, 1)

    env = {"NEURONVIZ_CACHE": str(cache), "NEURONVIZ_AUTOSTART": "1"}
    try:
        with serve_dashboard(env, timeout=120) as url, sync_playwright() as p:
            times["server_up_s"] = at()
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)  # the Start page queues the first run
            page.wait_for_selector("text=Analyses: queue", timeout=60_000)
            times["queue_shown_s"] = at()
            while "first_chart_s" not in times and at() < args.limit:
                if shows(page, url, "overview", ".js-plotly-plot", timeout=2):
                    times["first_chart_s"] = at()
                else:
                    time.sleep(1)
            # Every view, for both models: checked once both have a finished job; a view that
            # does not show yet is checked again (alone) after a pause, so the checks do not
            # load the machine the jobs run on.
            todo = [(m, path.format(m=m), sel) for m in MODELS for path, sel in VIEWS.values()]
            while todo and at() < args.limit:
                done = {r.request.model for r in store.all() if r.state == "done"}
                if not set(MODELS) <= done:
                    time.sleep(1)
                    continue
                todo = [(m, path, sel) for m, path, sel in todo if not shows(page, url, path, sel)]
                if todo:
                    times["views_missing"] = [path for _, path, _ in todo]
                    time.sleep(10)
            if not todo:
                times["all_views_s"] = at()
                times.pop("views_missing", None)
            while at() < args.limit:
                jobs = store.all()
                previews = [j for j in jobs if j.request.preview]
                if (
                    "previews_s" not in times
                    and previews
                    and all(j.state in ("done", "failed", "cancelled") for j in previews)
                ):
                    times["previews_s"] = at()
                    times["previews_failed"] = [j.label for j in previews if j.state != "done"]
                full = [
                    j
                    for j in jobs
                    if not j.request.preview
                    and j.request.model == "minilm"
                    and j.request.tasks == ("pos",)
                ]
                if not args.full and "previews_s" in times:
                    break
                if full and full[0].state in ("done", "failed"):
                    times["full_pos_s"] = round(full[0].finished - t0, 1)
                    times["full_pos_job_s"] = round(full[0].finished - full[0].started, 1)
                    times["full_pos_state"] = full[0].state
                    break
                time.sleep(5)
            page.goto(url)
            page.wait_for_selector("text=Ready to explore", timeout=60_000)
            time.sleep(3)
            page.screenshot(path=str(cache / "start.png"), full_page=True)
            browser.close()
    finally:
        for job in store.all():
            store.cancel(job.job_id)
    times["jobs"] = [
        {"job": j.label, "state": j.state, "ran_s": round(j.finished - j.started, 1)}
        for j in sorted(store.all(), key=lambda j: j.started)
        if j.started and j.finished
    ]
    times.update(
        date=time.strftime("%Y-%m-%d %H:%M"),
        machine=f"{os.cpu_count()} CPUs, {platform.machine()}",
        command="python bench/first_run.py" + (" --full" if args.full else ""),
        cache=str(cache),
    )
    print(json.dumps(times, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(times, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
