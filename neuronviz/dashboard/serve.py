"""Serving the dashboard on localhost and pointing a headless browser at it.

One place for what the browser test, the dashboard benchmark and the screenshot script share:
start ``streamlit run app.py`` on a free port, wait until it answers, stop it afterwards; the
Chromium flags that work on a headless machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neuronviz.errors import NeuronvizError

__all__ = ["CHROMIUM_ARGS", "chromium_path", "free_port", "serve_dashboard"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's Chromium (Playwright's own browser download is not used)."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_dashboard(
    env: dict[str, str] | None = None, *, app: Path = ROOT / "app.py", timeout: float = 60.0
) -> Iterator[str]:
    """Run the dashboard in a child process and yield its URL; stop it on exit.

    ``env`` adds to the current environment (e.g. ``NEURONVIZ_CACHE``); the background
    auto-start of the default analysis is off unless ``env`` turns it on.
    """
    port = free_port()
    child_env = {**os.environ, "NEURONVIZ_AUTOSTART": "0", **(env or {})}
    command = [sys.executable, "-m", "streamlit", "run", str(app)]
    command += ["--server.headless", "true", "--server.port", str(port)]
    command += ["--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(
        command,
        cwd=app.parent,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise NeuronvizError(
                    f"the dashboard did not start on {url} within {timeout:.0f} s "
                    f"(exit code {proc.poll()})",
                    hint=f"run: streamlit run {app} and read its output",
                )
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
