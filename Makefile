# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
SNAKEMAKE_ARGS ?=
# The config files of `make run` and `make report`, merged in order (make run CONFIG="config/config.yaml
# my.yaml"); checked first, so a missing file or a YAML error is named in one line.
CONFIG ?= config/config.yaml

.PHONY: env run test test-quick lint dry-run-paper plan-paper plan-rehearsal rehearse benchmark report clean

# The environment is (re)built when the pins change; the stamp file marks a finished install.
$(VENV)/.installed: requirements.txt pyproject.toml envs/fetch_web_assets.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, on its own: the rest must resolve against this exact build.
	$(BIN)/python -m pip install --quiet $(TORCH_PINS)
	$(BIN)/python -m pip install --quiet -r requirements.txt $(TORCH_PINS)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	# d3 and FileSaver from the npm registry (HTTPS, hash-checked; no npm needed), inlined into the Mapper pages so that they open offline
	$(BIN)/python envs/fetch_web_assets.py $(VENV)/share/pipeline-web
	touch $@

env: $(VENV)/.installed

# After a killed run: its orphaned jobs stopped and Snakemake's lock removed (pipeline.recovery;
# refused while a snakemake runs here), and what it left incomplete re-run.
run: env
	$(BIN)/python -m pipeline check-config $(CONFIG)
	$(BIN)/python -m pipeline recover
	$(BIN)/snakemake --cores $(CORES) --rerun-incomplete $(SNAKEMAKE_ARGS) --configfile $(CONFIG)

# Lint first (about 10 s): a lint failure stops here, before the suite runs.
test: env lint
	$(BIN)/python -m pytest tests

test-quick: env
	$(BIN)/python -m pytest -m "not slow" tests

# ruff (pycodestyle, pyflakes, import order; settings in pyproject.toml) and Snakemake's linter.
# `snakemake --lint` exits 0 even when it prints lints, so any output beyond its "Congratulations" fails.
lint: env
	$(BIN)/ruff check pipeline tests benchmarks
	@out=$$($(BIN)/snakemake --lint 2>&1); status=$$?; \
	if [ $$status -ne 0 ] || ! echo "$$out" | grep -q "Congratulations, your workflow is in a good condition"; then \
		echo "$$out"; echo "snakemake --lint found problems"; exit 1; fi; echo "snakemake --lint: clean"

# The HTML report of a finished run (after `make run`; CONFIG as there), into its results folder:
# every final table and figure. Covers the studies that have run (after a one-study run too):
# python -m pipeline finished names them.
report: env
	$(BIN)/python -m pipeline check-config $(CONFIG)
	$(BIN)/snakemake --cores 1 --report $$($(BIN)/python -m pipeline finished --folder $(CONFIG))/report.html \
		$$($(BIN)/python -m pipeline finished $(CONFIG)) $(SNAKEMAKE_ARGS) --configfile $(CONFIG)

dry-run-paper: env
	$(BIN)/snakemake --dry-run --quiet --cores 2 --configfile config/paper.yaml

# The bill of config/paper.yaml before it runs: per rule and in total, jobs, GPU- and CPU-hours,
# peak host and GPU memory, storage, the critical path (pipeline.plan; device figures: compute.plan).
plan-paper: env
	$(BIN)/python -m pipeline plan --configfile config/paper.yaml

# The same estimates for the rehearsal, against what a finished `make rehearse` measured per job.
plan-rehearsal: env
	$(BIN)/python -m pipeline plan --configfile config/paper.yaml config/rehearsal.yaml --against results-rehearsal

# The paper config's whole DAG on stand-in data with reduced counts (config/rehearsal.yaml over
# config/paper.yaml), into results-rehearsal/: what to run before spending a GPU allocation.
rehearse: env
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS) --configfile config/paper.yaml config/rehearsal.yaml

# Every benchmark, each printing its side-by-side ratios (~1 h on 2 cores): each program of
# benchmarks/ that declares BENCHMARK_ENV (its environment), found by benchmarks/run_all.py;
# `run_all.py --list` names them. benchmarks/rehearsal.py is not one: it reads a finished `make rehearse`.
benchmark: env
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf results results-rehearsal logs .snakemake
