# `make demo`, `make test`, `make docs` and `make serve-docs` work on a fresh machine with only
# Python installed: each creates .venv when it is missing and installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
# `make docs-check` builds the site in a venv of its own that holds the `docs` extra alone
# (under build/, which git and ruff ignore), so a page needing more than that extra fails there.
DOCS_VENV ?= build/venv-docs
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# MkDocs 1.6 prints a notice about MkDocs 2 on every build; it is not about this site.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs

.PHONY: demo test lint typecheck docs docs-check serve-docs clean
.PHONY: notebooks

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# One stamp per set of extras, redone when pyproject.toml changes.
$(VENV)/.stamp-base: pyproject.toml | $(PY)
	$(PIP) install -e ".[datasets,plot]"
	touch $@

$(VENV)/.stamp-docs: pyproject.toml | $(PY)
	$(PIP) install -e ".[docs]"
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PIP) install -e ".[dev]"
	touch $@

# The main job through the command: train on the embedded digits, print test accuracy and
# speed, and leave a run directory (config, history, model file, plots) in runs/demo.
demo: $(VENV)/.stamp-base
	$(PY) -m jaxnn train --data digits --out runs/demo --overwrite

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) docs/notebooks.py --check

typecheck: $(VENV)/.stamp-dev
	$(VENV)/bin/mypy jaxnn

# The tests (docs' Python blocks included), then the site, which must build without a warning.
# -rs lists every skipped test with its reason (the Playground's browser test needs Chromium).
test: lint typecheck
	@test -x /usr/bin/chromium || echo "note: no /usr/bin/chromium (Debian's chromium): the Playground's browser test is skipped"
	$(PY) -m pytest -n 2 -q -rs
	$(MKDOCS) build --strict -q -d build/site

# The lectures' notebooks in JupyterLab (percent scripts: right-click one, Open With > Notebook).
$(VENV)/.stamp-notebooks: pyproject.toml | $(PY)
	$(PIP) install -e ".[notebooks]"
	touch $@

# NOTEBOOK_ARGS go to JupyterLab, e.g. `make notebooks NOTEBOOK_ARGS="--no-browser --port 8890"`
# (or --allow-root in a container that runs as root, which JupyterLab otherwise refuses).
NOTEBOOK_ARGS ?=
notebooks: $(VENV)/.stamp-notebooks
	$(VENV)/bin/jupyter lab $(NOTEBOOK_ARGS) notebooks/

docs: $(VENV)/.stamp-docs
	$(MKDOCS) build --strict

# Live reload on http://$(DOCS_ADDR)/ (`make serve-docs DOCS_ADDR=127.0.0.1:8001` for another port).
DOCS_ADDR ?= 127.0.0.1:8000
serve-docs: $(VENV)/.stamp-docs
	$(MKDOCS) serve -a $(DOCS_ADDR)

# What CI runs besides `make test` (which has every extra installed): the strict build with only
# what `pip install "jaxnn[docs]"` brings.
docs-check:
	$(MAKE) --no-print-directory docs VENV=$(DOCS_VENV)

clean:
	rm -rf $(VENV) build *.egg-info
