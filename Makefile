# `make demo` and `make test` work on a fresh clone: they build .venv inside the clone first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/automl-guide demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) automl_guide_demo automl_guide_run
