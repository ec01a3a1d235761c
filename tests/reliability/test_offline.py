"""Made for offline rooms: with NEURONVIZ_OFFLINE=1 no page reaches for the network, and the
project's Streamlit settings switch off usage statistics and the Deploy button."""

from __future__ import annotations

import socket
from pathlib import Path

import tomllib
from apptools import APP, open_page
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]

PAGES = {
    "start": {},
    "overview": {"model": "bert", "task": "pos"},
    "heatmap": {"model": "bert", "task": "pos"},
    "layers": {"model": "bert", "task": "pos"},
    "compare": {"models": "bert,gpt2"},
    "deep_dive": {"model": "bert", "task": "pos"},
    "paper": {},
    "explorer": {"model": "bert", "task": "pos", "neuron": "1:3"},
    "neuron": {"model": "bert", "q": "the"},
    "intervene": {"model": "bert", "iv_tab": "A sentence"},
    "learn": {},
    "cached_data": {},
}
LOCAL = {"127.0.0.1", "::1", "localhost"}


def test_no_page_reaches_for_the_network_when_offline(analysed, monkeypatch):
    monkeypatch.setenv("NEURONVIZ_CACHE", str(analysed))
    monkeypatch.setenv("NEURONVIZ_OFFLINE", "1")
    monkeypatch.setenv("NEURONVIZ_AUTOSTART", "0")
    attempts: list = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(real):
        def connect(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL:
                attempts.append(address)
                raise OSError(f"the network is blocked in this test ({address})")
            return real(sock, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
    for page, params in PAGES.items():
        at = open_page(AppTest.from_file(APP, default_timeout=90), page, **params)
        assert not at.exception and not at.error, (page, [e.value for e in at.error])
    assert attempts == []


def test_streamlit_settings_for_offline_talks():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    # Set explicitly, the start-up message looks up no public address (checkip.amazonaws.com).
    assert config["browser"]["serverAddress"] == "localhost"
    assert config["client"]["toolbarMode"] == "viewer"  # no Deploy button
