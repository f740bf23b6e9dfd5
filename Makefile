# The two commands the README opens with: `make demo` and `make test`.
# Both install what they need with uv (itself installed with pip if missing). uv never
# downloads a Python interpreter here, and the default install is the CPU build of everything.

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: help install demo test lint services bench proof clean sample-video

help:
	@echo "make demo     run the control plane (SQLite, embedded broker) and an agent on a sample video"
	@echo "make test     install, start PostgreSQL + Mosquitto if needed, run the whole test suite"
	@echo "make lint     ruff and mypy (strict) on all three packages, the tests and the scripts"
	@echo "make bench    print the benchmark figures (JSON)"
	@echo "make sample-video  data/samples/sample.mp4 for docker/compose.yaml's agent"
	@echo "make proof    fault-injection scenarios + 10 min load run (20-45 min), writes docs/proof.md"

install:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --locked --quiet

services:
	@./scripts/ensure_services.sh

demo: install
	$(UV) run --locked python -m scripts.demo

test: install services
	@./scripts/ensure_browser.sh >/dev/null
	@./scripts/ensure_rtsp_deps.sh
	$(UV) run --locked pytest $(PYTEST_ARGS)

lint: install
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy shared/src agent/src controlplane/src
	$(UV) run --locked mypy tests scripts

# The sample video of docker/compose.yaml's agent (and of agent/examples/pipeline.yaml when
# copied there): pans over the test images (AIOS_TEST_DATA/images, default ../shared/testdata).
sample-video: install
	$(UV) run --locked python -m scripts.sample_video data/samples/sample.mp4

bench: install services
	$(UV) run --locked python -m scripts.bench_detector --json

# Private Mosquitto and PostgreSQL on free ports; PROOF_ARGS="--fast --load-seconds 60" for a
# shorter run.
PROOF_ARGS ?=
proof: install
	$(UV) run --locked python -m scripts.proof $(PROOF_ARGS)

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache data
