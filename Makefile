# nbkit: two commands do all set-up. `make reproduce` and `make test` create .venv when missing,
# install nbkit into it (skipped when pyproject.toml is unchanged) and register the `nbkit` kernel.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.nbkit-stamp
BATCH   ?= default
JOBS    ?= 1
DATA_ROOT ?=
PYTEST_ARGS ?=
# extra options: ARGS for `nbkit reproduce` (e.g. ARGS="-p injection_rate=0.3 --dry-run"),
# LAB_ARGS for `jupyter lab` (e.g. LAB_ARGS="--no-browser --port 8890")
ARGS ?=
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; in a container that is usual, so say it for the user
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: venv reproduce test bench lab clean clean-runs help

help:
	@echo "make reproduce [BATCH=smoke|default|paper] [DATA_ROOT=...] [JOBS=N] [ARGS=...]  run a batch into runs/"
	@echo "make test                                                         run the test suite"
	@echo "make bench                                                        run the benchmarks"
	@echo "make lab [LAB_ARGS=...]                                           JupyterLab on the nbkit kernel"
	@echo "make clean-runs                                                   remove runs/ (every batch's results)"
	@echo "make clean                                                        remove runs/ and caches"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name nbkit --display-name "Python (nbkit)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

reproduce: $(STAMP)
	$(BIN)/python -m nbkit reproduce --batch $(BATCH) --jobs $(JOBS) $(if $(DATA_ROOT),--data-root $(DATA_ROOT),) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lab: $(STAMP)
	$(BIN)/jupyter lab --MultiKernelManager.default_kernel_name=nbkit $(LAB_ROOT) $(LAB_ARGS) notebooks/

clean-runs:
	rm -rf runs

clean: clean-runs
	rm -rf .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
