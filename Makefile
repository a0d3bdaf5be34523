# The two commands: `make demo` (main job) and `make test` (test suite). Both create .venv when missing.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install bench clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (or set PY=python3)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/neurodyn demo --out runs/demo --force
	@echo "report: runs/demo/report.html"

test: $(STAMP)
	@# In CI, install Debian's Chromium for the report-in-a-browser test (skipped where absent).
	@if [ -n "$$CI" ] && ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium could not be installed; the browser test will be skipped"; fi
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
