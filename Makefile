# Two commands for a fresh machine (see README.md):
#   make run   installs everything into .venv and starts the dashboard on the embedded model
#   make test  installs everything (with test tools) into .venv and runs the whole test suite
#   (make test-fast: the unit tests alone, under two minutes)
VENV ?= .venv
PY := $(VENV)/bin/python
# torch first and pinned: a range admitting a newer torch would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# The installer; CI passes uv's pip interface (`make test PIP="uv pip"`), which installs the
# same requirements in about half the time.
PIP ?= $(PY) -m pip

.PHONY: run test test-fast lint install install-dev clean-venv

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: $(VENV)/bin/python requirements.txt pyproject.toml
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev]"
	# NeuroX 1.0.9 (the paper authors' toolkit) for parity tests and benchmarks; its pinned
	# dependencies are ancient, and only numpy, torch and imbalanced-learn are needed.
	$(PIP) install -q --no-deps neurox==1.0.9
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(VENV)/bin/streamlit run app.py

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

# The unit tests alone (under two minutes): no models, analyses, browser, Ray or real corpora.
test-fast: install-dev
	$(PY) -m pytest -m "not slow and not browser and not ray and not integration"

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean-venv:
	rm -rf $(VENV)
