# spinet build / test entry points.  `make test` is what CI runs (via .ci/run).

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.stamp
STUBS  := $(VENV)/pico-stubs
PY     := $(VENV)/bin/python
MPY    := $(VENV)/bin/micropython

.DEFAULT_GOAL := test
.PHONY: venv test typecheck pytest mptest demo clean fuzz

# --- bootstrap -------------------------------------------------------------
# Re-runs only when a requirements file changes. The Pico stubs go to a
# separate --target dir (they would shadow CPython's stdlib stubs in site-packages);
# it is wiped first because pip --target does not replace existing packages.
$(STAMP): requirements-dev.txt requirements-pico-stubs.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	rm -rf $(STUBS)
	$(PY) -m pip install -q --target $(STUBS) -r requirements-pico-stubs.txt
	touch $@

venv: $(STAMP)

# --- tests -----------------------------------------------------------------
# Stages run in order; the first failing one fails the target.
test: $(STAMP)
	@$(MAKE) --no-print-directory typecheck
	@$(MAKE) --no-print-directory pytest
	@$(MAKE) --no-print-directory mptest
	@echo "==> make test: all stages passed"

typecheck: $(STAMP)
	@echo "==> [1/3] mypy: lib/spinet against MicroPython rp2 (Pico) stubs"
	$(PY) -m mypy --config-file mypy-pico.ini lib/spinet

pytest: $(STAMP)
	@echo "==> [2/3] pytest: tests/ on CPython"
	$(PY) -m pytest

mptest: $(STAMP)
	@echo "==> [3/3] MicroPython unix port: tests/mprun.py"
	$(MPY) tests/mprun.py

# --- tools -----------------------------------------------------------------
demo: $(STAMP)
	$(PY) -m host_tools demo

# Long fuzz campaign (docs/RELIABILITY.md "Fuzzing"): atheris on the frame-in path
# for FUZZ_SECONDS (600), then randomized hypothesis property tests; prints inputs
# run, coverage and crashes.
fuzz: $(STAMP)
	$(PY) tests/fuzz/campaign.py
	SPINET_PROP_EXAMPLES=$${PROP_EXAMPLES:-2000} $(PY) -m pytest -q tests/cpython/test_properties_frames.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# --- soak (issue 10): the long run; figures go to docs/RELIABILITY.md -------
.PHONY: soak
SOAK_CYCLES ?= 10000
SOAK_MIXED_S ?= 1800
soak: $(STAMP)
	SOAK_CYCLES=$(SOAK_CYCLES) SOAK_MIXED_S=$(SOAK_MIXED_S) \
	  $(PY) -m pytest -s -q tests/cpython/test_soak.py
