# touchlog — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench bench-stages schemas clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/touchlog: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/touchlog ## Create .venv and install touchlog with its dev tools

run: install ## Start everything on the embedded defaults, with demo data
	$(BIN)/touchlog up --demo

test: install ## Run the whole test suite on two workers (starts its own broker; PostgreSQL from DATABASE_URL or embedded)
	$(BIN)/pytest -n 2 --dist loadfile

lint: install ## ruff, formatting, mypy --strict, schema compatibility
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy events producers projections consumers api touchlog privacy
	$(BIN)/touchlog schemas check

schemas: install ## Regenerate schemas/ from the event models (refuses breaking changes)
	$(BIN)/touchlog schemas generate

bench: install ## The whole pipeline's benchmarks: regenerate docs/BENCHMARKS.md (~16 min)
	$(BIN)/python -m benchmarks.pipeline  # writes docs/BENCHMARKS.md
	$(BIN)/python -m benchmarks.soak  # 10 minutes at 2,000 events/s; adds its section
	$(BIN)/python -m benchmarks.privacy  # sealing's cost: publish and projection, sealed / clear

bench-stages: install ## Each stage's own benchmark (print figures; not tests; ~1 h)
	$(BIN)/python -m benchmarks.timeline
	$(BIN)/python -m benchmarks.identity
	$(BIN)/python -m benchmarks.profile
	$(BIN)/python -m benchmarks.gateway
	$(BIN)/python -m benchmarks.triggers
	$(BIN)/python -m benchmarks.rebuild
	$(BIN)/python -m benchmarks.audiences
	$(BIN)/python -m benchmarks.analytics

clean: ## Remove the virtualenv and embedded data
	rm -rf $(VENV) .touchlog
