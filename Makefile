# One-command set-up on a fresh machine (no GPU, no network beyond the package index).
#   make demo   – create .venv, install refine, run the demo AL experiment on digits
#   make test   – create .venv with the dev extras, run the whole test suite
#   make reproduce-table2 [PRESET=cpu|paper] [WORKERS=2] [ENGINE=local|ray]  – one artefact
#   make reproduce-all PRESET=cpu  – every table and figure into paper_figures/
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRESET ?= cpu
WORKERS ?= 2
ENGINE ?= local
ARTEFACTS := table1 table2 fig1 fig2 fig3 fig4 fig5 fig6 fig8 appendix theory divergences
DEMO_OUT ?= results/demo
# Tests run in 2 xdist workers; one BLAS/torch thread each avoids oversubscribing the 2 cores.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg PYTHONHASHSEED=0

.PHONY: help install install-dev demo test notebooks lint format bench clean reproduce-all $(addprefix reproduce-,$(ARTEFACTS)) reproduce-fig5a reproduce-fig5b reproduce-figs9-13

help:
	@grep -E '^#  ' Makefile | sed 's/^#  //'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-core: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed-core

install: $(VENV)/.installed-core
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed-core
	$(VENV)/bin/refine run --dataset digits --strategy random,margin --seeds 1-3 --cycles 20 --out $(DEMO_OUT) --resume
	$(VENV)/bin/refine run --dataset digits --strategy refine --seeds 1-3 --cycles 20 --out $(DEMO_OUT) --resume
	$(VENV)/bin/refine report $(DEMO_OUT) --figures $(DEMO_OUT)/figures

test: $(VENV)/.installed-dev
	$(TEST_ENV) $(PY) -m pytest -n 2 --dist loadfile -q
	$(TEST_ENV) $(PY) -m pytest --nbval notebooks/ -q -p no:cacheprovider

notebooks: $(VENV)/.installed-dev
	$(TEST_ENV) $(PY) notebooks/build_notebooks.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check refine theory reproduce tests benchmarks notebooks/build_notebooks.py
	$(VENV)/bin/ruff format --check refine theory reproduce tests benchmarks notebooks/build_notebooks.py

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format refine theory reproduce tests benchmarks notebooks/build_notebooks.py
	$(VENV)/bin/ruff check --fix refine theory reproduce tests benchmarks notebooks/build_notebooks.py

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_head.py
	$(PY) benchmarks/bench_strategies.py
	$(PY) benchmarks/bench_refine.py

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache

$(addprefix reproduce-,$(ARTEFACTS)): reproduce-%: $(VENV)/.installed-core
	$(PY) -m reproduce $* --preset $(PRESET) --workers $(WORKERS) --engine $(ENGINE)

reproduce-fig5a reproduce-fig5b: reproduce-fig5
reproduce-figs9-13: reproduce-appendix

reproduce-all: $(VENV)/.installed-core
	$(PY) -m reproduce all --preset $(PRESET) --workers $(WORKERS) --engine $(ENGINE)
