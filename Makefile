# The two entry points of the README: `make demo` and `make test`. Both set up `.venv` first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.swapcam-installed
PYTEST_ARGS ?=

.PHONY: install test demo bench clean

install: $(STAMP)

# Re-installs only when pyproject.toml changed (the install is editable, so code edits need nothing).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -q -e '.[cpu,dev]'  # one ONNX Runtime: the CPU build
	@touch $(STAMP)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The whole pipeline on two portraits shipped inside installed packages: virtual-camera clips -> facesets -> train
# -> export -> convert, into out/. Training takes DEMO_MINUTES from the environment (default 5), e.g.
# `make demo DEMO_MINUTES=2`; running it again trains on from where the last run stopped.
demo: install
	$(PY) -m swapcam.demo --out out

bench: install
	$(PY) benchmarks/bench_face.py

clean:
	rm -rf $(VENV) out .pytest_cache
