# Two entry points (see README): `make demo` runs the main job, `make test` runs the test suite.
# Both create the in-project virtual environment .venv/ from the pinned set in constraints.txt.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup clean chromium

setup: $(STAMP) chromium

# The HTML report is tested in a real headless Chromium: Debian's package, driven by Playwright (never
# `playwright install`, which downloads a browser). Installed once, only when missing.
chromium:
	@test -x /usr/bin/chromium || { (apt-get update -qq || sudo apt-get update -qq) && \
	  (apt-get install -y --no-install-recommends chromium || sudo apt-get install -y --no-install-recommends chromium); }

$(STAMP): pyproject.toml constraints.txt
	$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"segaudit needs Python 3.11, found {sys.version}"'
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/segaudit demo --quick --out reports/demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
