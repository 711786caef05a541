# featuredrop — common tasks. Run inside the environment where `pip install -e ".[dev]"` went.
PYTHON ?= python
# deep results the figures read: committed CPU smoke runs; pass RESULTS=runs/deep-cpu after
# `python scripts/deep_cpu_grid.py` (adds the viewmaker-views grid, which needs checkpoints)
RESULTS ?= results/deep-cpu-smoke

.PHONY: install sweep test test-slow lint figures bench smoke

install:
	$(PYTHON) -m pip install -e ".[dev]"

sweep:  ## closed-form phase diagram (strength ratio x dropout) into runs/sweep
	$(PYTHON) -m linear_theory.sweep --out runs/sweep

test:   ## the fast test suite (what CI runs)
	HYPOTHESIS_PROFILE=ci $(PYTHON) -m pytest

test-slow:  ## the long simulations (InfoNCE phase structure at theory.md's settings, ...)
	$(PYTHON) -m pytest -m slow

lint:
	$(PYTHON) -m ruff check .

smoke:  ## tiny deep-arm run on CPU: expert, viewmaker and feature-dropout views on C+Digits
	$(PYTHON) -m deep_experiments run --dataset c+digits --method expert --preset smoke --out runs/smoke-expert
	$(PYTHON) -m deep_experiments run --dataset c+digits --method viewmaker --preset smoke --out runs/smoke-viewmaker
	$(PYTHON) -m deep_experiments run --dataset c+digits --method dropout --preset smoke --out runs/smoke-dropout

figures:  ## every figure that has data, into figures/ (PNG + PDF + CSV/JSON of the numbers)
	MPLBACKEND=Agg $(PYTHON) -m paper_figures --out figures --results $(RESULTS)

bench:  ## speed targets (printed tables; not part of the tests)
	$(PYTHON) benchmarks/bench_closed_form.py
	$(PYTHON) benchmarks/bench_dynamics.py
	$(PYTHON) benchmarks/bench_augment.py
