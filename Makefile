# Task runner. `make demo` sets everything up and runs the assistant on the sample knowledge base;
# `make test` runs the test suite. Both work on a fresh machine (Python 3.11, network to PyPI/Debian only).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
# CPU torch first, then everything else under the lock file (torch pinned there too).
CONSTRAINTS := constraints.txt
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
WHEEL_CACHE ?= $(HOME)/.cache/kb-wheels
DOCS ?= data/sample
INDEX ?=
INDEX_ARG := $(if $(INDEX),--index $(INDEX),)
export HF_HUB_OFFLINE=1
export ANONYMIZED_TELEMETRY=False
export DO_NOT_TRACK=1

.PHONY: setup demo ingest list test test-unit test-integration lint bench bench-ingest clean-index

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11"; exit 1; }
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(PYTHON) -m ingest $(DOCS) $(INDEX_ARG); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ] || exit $$rc
	$(PYTHON) -m ingest --list $(INDEX_ARG)

ingest: setup
	$(PYTHON) -m ingest $(DOCS) $(INDEX_ARG)

list: setup
	$(PYTHON) -m ingest --list $(INDEX_ARG)

test: setup
	$(PYTHON) -m pytest -q tests

test-unit: setup
	$(PYTHON) -m pytest -q tests/unit

test-integration: setup
	$(PYTHON) -m pytest -q -m integration tests/integration

lint: setup
	$(BIN)/ruff check configs retrieval ingest serving eval tests scripts
	$(BIN)/mypy configs retrieval ingest serving eval

bench: bench-ingest

bench-ingest: setup
	$(PYTHON) -m eval bench-ingest

clean-index:
	rm -rf data/index
