# The two commands of the README. Both create the virtual environment when it is missing.
# torch is installed first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

SHARED ?= ../shared/data
# where the benchmarks train: two worker processes, same-shape trainings packed into one network
# (on 2 CPU cores the fastest setting measured, BENCHMARKS.md); EXECUTOR=packed on one GPU
EXECUTOR ?= local:2+packed

.PHONY: test demo install clean bench bench-short bench-speed

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# the layering contract of pyproject.toml first (seconds), then the suite
test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/hmtl demo --out runs/demo

runs/manifests/ravdess.csv: | $(STAMP)
	$(VENV)/bin/hmtl prepare ravdess $(SHARED)/ravdess --out $@

# The headline benchmark: every method with paired statistics, 3 seeds, 10 random trees, at the
# points that decide the goal: RAVDESS at widths x0.25 and x0.5, the three-language digits at
# x0.5 (LT4REC left out there); within 3 h on 2 cores (timed in BENCHMARKS.md).
# WIDTHS=0.25,0.5,1 runs the whole capacity axis. Rewrites their sections of BENCHMARKS.md and
# benchmarks/figures/. Resumes: a rerun trains only what is missing.
bench: $(STAMP)
	$(PY) benchmarks/bench.py --data $(SHARED) $(if $(EXECUTOR),--executor $(EXECUTOR)) \
		$(if $(SEEDS),--seeds $(SEEDS)) $(if $(CORPORA),--corpora $(CORPORA)) \
		$(if $(WIDTHS),--widths $(WIDTHS))

# The short setting: RAVDESS at a quarter of the widths, 3 seeds, 10 random trees (45 min on 2
# cores with the default EXECUTOR).
bench-short: $(STAMP)
	$(PY) benchmarks/bench.py --short --data $(SHARED) $(if $(EXECUTOR),--executor $(EXECUTOR))

# The whole method on RAVDESS, 1 seed, with each executor and the exhaustive serial sweep as the
# reference tree, at full and a quarter of the widths (time per training against MACs, and the
# share of the machine's peak); rewrites its section of BENCHMARKS.md (about an hour per width
# on 2 CPU cores; resumes setting by setting).
bench-speed: $(STAMP) runs/manifests/ravdess.csv
	$(PY) benchmarks/speed.py configs/ravdess.yaml --seeds 1 --widths 1,0.25 --out runs/bench-speed \
		--executors serial,local:2,packed,local:2+packed,local:2+search.sweep=binary,local:2+search.warm_start=true \
		--title "CPU: RAVDESS, 1 seed" --write BENCHMARKS.md --section speed-cpu --reuse

clean:
	rm -rf runs .pytest_cache
