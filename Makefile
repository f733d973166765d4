# `make run` and `make test` each do all of their own set-up (idempotent: a second call
# skips what is done), then run the main job or the test suite.

PYTHON       ?= python3
VENV         := .venv
PY           := $(VENV)/bin/python
# The CPU build of PyTorch; on a CUDA machine use e.g. `make TORCH_SPEC='torch>=2.2' run`.
TORCH_SPEC   ?= torch==2.13.0
DEB_PACKAGES := dataset-fashion-mnist sword-text-web sword-text-kjv sword-text-sparv chromium
# one file of each package: present means installed (chromium: the report's browser test)
DATA_MARKERS := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
                /usr/share/sword/mods.d/engWEB2015eb.conf /usr/share/sword/mods.d/engKJV2006eb.conf \
                /usr/share/sword/mods.d/spaRV1909eb.conf /usr/bin/chromium
RUN_ARGS     ?=

.PHONY: run test test-slow bench setup data clean

run: setup data
	$(VENV)/bin/divelab run lenet $(RUN_ARGS)

test: setup data
	$(PY) -m pytest -q

test-slow: setup data
	$(PY) -m pytest -q -m slow

bench: setup data
	$(PY) benchmarks/trainer_vs_dataloader.py

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# Debian data packages: installed as root, or through sudo; otherwise say what to do.
data:
	@if ls $(DATA_MARKERS) >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "note: no apt-get here; divelab will look in \$$DIVELAB_DATA or download Fashion-MNIST; text experiments need --set text=FILE"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else echo "note: run 'apt-get install $(DEB_PACKAGES)' as root, or set DIVELAB_DATA"; exit 0; fi; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(DEB_PACKAGES)

clean:
	rm -rf $(VENV) runs .pytest_cache
