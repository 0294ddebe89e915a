# One-command set-up on a fresh machine (no GPU, no network beyond the package index).
#   make demo   – create .venv, install refine, run the demo AL experiment on digits
#   make test   – create .venv with the dev extras (and .venv-labelstudio), run the whole test suite
#   make labelstudio-venv – the separate Label Studio server + SDK environment of the round-trip test
#   make reproduce-table2 [PRESET=cpu|paper|rehearsal] [WORKERS=2] [ENGINE=local|ray] [DEVICE=auto]  – one artefact
#   make reproduce-claims [PRESET=cpu-claims|paper]  – the claims ledger (paper_figures/claims/)
#   make reproduce-all PRESET=cpu  – every table and figure into paper_figures/
#   make rehearsal  – the paper preset's code path on generated data (into results/rehearsal/)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRESET ?= cpu
WORKERS ?= 2
ENGINE ?= local
DEVICE ?= auto
ARTEFACTS := table1 table2 fig1 fig2 fig3 fig4 fig5 fig6 fig8 appendix theory claims longtail medical bad_apples query_size divergences refine_profiles bait_precision
DEMO_OUT ?= results/demo
# Label Studio (server + SDK) for the real round-trip test, in its own venv: its pinned Django /
# pydantic stack must never meet refine's.
LS_VENV ?= .venv-labelstudio
LS_REQS := tests/project/labelstudio/requirements.txt
# Tests run in 2 xdist workers; one BLAS/torch thread each avoids oversubscribing the 2 cores.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg PYTHONHASHSEED=0

# What `make reproduce-*` installs besides the core: the paper and rehearsal presets read image
# and audio features (backbones, audio) and may run on Ray (distributed); ENGINE=ray needs ray.
comma := ,
empty :=
space := $(empty) $(empty)
EXTRAS_paper := backbones audio distributed
EXTRAS_rehearsal := backbones audio distributed
REPRO_EXTRAS := $(subst $(space),-,$(strip $(sort $(EXTRAS_$(PRESET)) $(if $(filter ray,$(ENGINE)),distributed))))
REPRO_INSTALL := $(if $(REPRO_EXTRAS),$(VENV)/.installed-x-$(REPRO_EXTRAS),$(VENV)/.installed-core)
REPRO_ARGS = --preset $(PRESET) --workers $(WORKERS) --engine $(ENGINE) --device $(DEVICE)

.PHONY: help install install-dev labelstudio-venv demo test notebooks lint format bench clean rehearsal reproduce-all $(addprefix reproduce-,$(ARTEFACTS)) reproduce-fig5a reproduce-fig5b reproduce-figs9-13

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

# the theory report (reproduce-theory, and reproduce-all which includes it) needs the theory extra
$(VENV)/.installed-theory: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[theory]"
	touch $@ $(VENV)/.installed-core

$(VENV)/.installed-x-%: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[$(subst -,$(comma),$*)]"
	touch $@ $(VENV)/.installed-core

$(LS_VENV)/.installed: $(LS_REQS)
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q --upgrade pip
	$(LS_VENV)/bin/python -m pip install -q -r $(LS_REQS)
	touch $@

labelstudio-venv: $(LS_VENV)/.installed

install: $(VENV)/.installed-core
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed-core
	$(VENV)/bin/refine run --dataset digits --strategy random,margin --seeds 1-3 --cycles 20 --out $(DEMO_OUT) --resume
	$(VENV)/bin/refine run --dataset digits --strategy refine --seeds 1-3 --cycles 20 --out $(DEMO_OUT) --resume
	$(VENV)/bin/refine report $(DEMO_OUT) --figures $(DEMO_OUT)/figures --stats

test: $(VENV)/.installed-dev $(LS_VENV)/.installed
	REFINE_LABEL_STUDIO_VENV=$(abspath $(LS_VENV)) REFINE_REQUIRE_LABEL_STUDIO=1 $(TEST_ENV) $(PY) -m pytest -n 2 --dist loadfile -q
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
	rm -rf $(VENV) $(LS_VENV) results .pytest_cache .ruff_cache

$(addprefix reproduce-,$(ARTEFACTS)): reproduce-%: $(REPRO_INSTALL)
	$(PY) -m reproduce $* $(REPRO_ARGS)

reproduce-theory reproduce-all: $(VENV)/.installed-theory

reproduce-fig5a reproduce-fig5b: reproduce-fig5
reproduce-figs9-13: reproduce-appendix

reproduce-all: $(REPRO_INSTALL)
	$(PY) -m reproduce all $(REPRO_ARGS)

rehearsal: $(VENV)/.installed-x-audio-backbones-distributed
	$(TEST_ENV) $(PY) -m reproduce all --preset rehearsal --workers $(WORKERS) --engine $(ENGINE) --device $(DEVICE)
