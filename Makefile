# camguard: `make demo` runs the whole pipeline locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# One ONNX Runtime: cpu (onnxruntime) here and in CI; a GPU host runs `make EXTRAS=dev,gpu ...`
# on a fresh .venv (never cpu and gpu together: they overwrite each other).
EXTRAS ?= dev,cpu

.PHONY: demo test check lint typecheck unit integration bench codegen codegen-check models kafka-jars node-deps web-assets fuzz faults faust-edge clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

kafka-jars:
	@bash infra/kafka/kafka.sh fetch >/dev/null

models: $(STAMP)
	$(BIN)/camguard models fetch

node-deps: web-assets
	@if [ -f codegen/package-lock.json ]; then cd codegen && npm ci --no-audit --no-fund --silent; fi

# uPlot for /dashboard's charts (package.json); setup.py copies it into the wheel. Without npm
# the dashboard still works, without charts.
web-assets:
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: /dashboard will have no charts"; fi

demo: $(STAMP) kafka-jars models web-assets
	$(BIN)/camguard demo $(if $(DURATION),--duration $(DURATION),)

test: $(STAMP) kafka-jars models node-deps
	$(BIN)/python -m pytest tests

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP) kafka-jars models node-deps
	$(BIN)/python -m pytest tests/integration tests/e2e

# What a faust-streaming or aiokafka upgrade must pass: every test guarding an access to their
# internals (streams/faust_edge/), on a real broker (CAMGUARD_FAULTS_ALL=1: the fault tests too).
faust-edge: $(STAMP) kafka-jars models
	CAMGUARD_FAULTS_ALL=1 $(BIN)/python -m pytest -m faust_edge tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

codegen: $(STAMP) node-deps
	$(BIN)/python -m codegen

codegen-check: $(STAMP) node-deps
	$(BIN)/python -m codegen --check

check: lint typecheck codegen-check test

# Coverage-guided fuzzing (atheris) of every parser: FUZZ_RUNS inputs per harness, some of
# FUZZ_TARGETS (default all); prints inputs run and crashes per harness (fuzz/README.md).
FUZZ_RUNS ?= 100000
fuzz: $(STAMP)
	$(BIN)/python -m fuzz.run --runs $(FUZZ_RUNS) $(FUZZ_TARGETS)

# Fault injection on the real stack (also in make test, with a 60 s PostgreSQL outage):
# here PostgreSQL stays down the 5 minutes of the scenario.
faults: $(STAMP) kafka-jars models
	CAMGUARD_FAULTS_ALL=1 CAMGUARD_FAULT_PG_DOWN_S=300 $(BIN)/python -m pytest tests/integration/test_faults.py tests/integration/test_faults_postgres.py tests/integration/test_faults_policy.py -v

# Every bench, then one like-for-like table from the rows they print ("LFL| ..."); each bench
# alternates camguard and its peer round by round. QUICK=1: shorter runs (--quick; the
# anonymize bench: 8 frames, 1 repeat, 720p). BENCHES="spool events": only those. The soak
# (60 min) and capacity (stepped load, ~20 min) benches are not in the default list; run them
# by name: `.venv/bin/python bench/soak.py --minutes 30`, `.venv/bin/python bench/capacity.py`.
BENCHES ?= $(filter-out soak capacity,$(basename $(notdir $(wildcard bench/*.py))))
bench: $(STAMP) kafka-jars models web-assets
	@log=$$(mktemp); rc=$$(mktemp); echo 0 > $$rc; \
	for b in $(BENCHES); do \
	  echo "== bench/$$b.py"; \
	  if [ "$$b" = anonymize ]; then flags="$(if $(QUICK),--frames 8 --repeats 1 --resolutions 720p,)"; \
	  else flags="$(if $(QUICK),--quick,)"; fi; \
	  { $(BIN)/python bench/$$b.py $$flags || echo $$? > $$rc; } 2>&1 | tee -a $$log; \
	  [ "$$(cat $$rc)" = 0 ] || { echo "bench/$$b.py failed"; rm -f $$log $$rc; exit 1; }; \
	done; \
	echo; echo "== like for like ($$(date -u +%Y-%m-%dT%H:%MZ), $$(nproc) cores, load $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	echo "| bench, row | camguard | camguard configuration | peer | peer configuration | camguard / peer | goal |"; \
	echo "|---|---:|---|---:|---|---:|---|"; \
	grep -h '^LFL|' $$log | sed 's/^LFL|/|/'; \
	rm -f $$log $$rc

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
