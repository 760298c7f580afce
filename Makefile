# The two commands that matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lab bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,bench,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recon demo

test: $(STAMP)
	$(BIN)/ruff check recon tests benchmarks
	$(BIN)/mypy recon
	PYTHONHASHSEED=0 RECON_PROGRESS=0 $(BIN)/pytest

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,bench,spark,lab]'
	$(BIN)/python -m ipykernel install --sys-prefix --name recon --display-name "recon (.venv)"
	$(BIN)/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: $(STAMP)
	$(BIN)/python benchmarks/reconcile_bench.py

clean:
	rm -rf $(VENV) data/runs .pytest_cache .mypy_cache .ruff_cache .hypothesis
