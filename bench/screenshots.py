"""Screenshots of the dashboard on the current cache, for the docs.

Usage (from the repository root, after `neuronviz probe` runs have filled the cache):

    python bench/screenshots.py --out docs/img

Serves `app.py` on a free localhost port, opens each view in headless Chromium (Debian's
`/usr/bin/chromium`, driven by Playwright) and saves a full-page PNG per view.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neuronviz.dashboard.serve import CHROMIUM_ARGS, chromium_path, serve_dashboard  # noqa: E402

VIEWS = {
    "start": "",
    "overview": "overview?model=minilm&task=pos,ccg",
    "heatmap": "heatmap?model=minilm&task=pos",
    "layers": "layers?model=minilm&task=pos,chunk,sem,ccg",
    "compare": "compare?models=minilm,smollm2-135m&task=pos,sem",
    "paper": "paper",
    "deep-dive": "deep_dive?model=minilm&task=pos",
    "explorer": "explorer?model=minilm&task=pos&neuron={neuron}",
    "neuron-card": "neuron?model=minilm&q=the",
    "learn": "learn",
    "presentation": "layers?model=minilm&task=pos,chunk,sem,ccg&present=1",
    "intervene": "intervene?model=minilm&task=pos",
    "intervene-matrix": "intervene?model=minilm&task=pos&iv_tab=Task+x+task",
    "intervene-output": "intervene?model=smollm2-135m&task=pos&iv_tab=The+model%27s+output",
}
# Views that show their chart after a click on this button.
CLICKS = {"intervene-matrix": "Compute the matrix"}
# Views that compute for a while: wait for this element rather than a fixed time.
WAIT_FOR = {"intervene": ".js-plotly-plot", "intervene-output": "[data-testid='stMetric']"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--neuron", default="1:62")
    parser.add_argument("--wait", type=float, default=12.0, help="seconds to let each view render")
    parser.add_argument("--only", help="comma-separated view names (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with serve_dashboard() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        chosen = args.only.split(",") if args.only else list(VIEWS)
        for name in chosen:
            page.goto(f"{url}/{VIEWS[name].format(neuron=args.neuron)}")
            if name in WAIT_FOR:
                page.locator(WAIT_FOR[name]).first.wait_for(timeout=600_000)
            page.wait_for_timeout(int(args.wait * 1000))
            if name in CLICKS:
                page.get_by_role("button", name=CLICKS[name]).click()
                page.locator(".js-plotly-plot").first.wait_for(timeout=600_000)
                page.wait_for_timeout(2000)
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            print(f"saved {args.out / f'{name}.png'}")
        browser.close()


if __name__ == "__main__":
    main()
