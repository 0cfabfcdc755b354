# Entry points for a fresh machine: `make test`, `make test-fast`, `make lint` and `make demo`.
# DEVICE=cpu installs the CPU build of PaddlePaddle from PyPI; DEVICE=gpu expects the GPU build
# from PaddlePaddle's own package index (see README, "GPU install").
PYTHON ?= python3
VENV ?= .venv
DEVICE ?= cpu
PADDLE_CPU ?= paddlepaddle>=3.0
PADDLE_GPU_INDEX ?= https://www.paddlepaddle.org.cn/packages/stable/cu126/
PY := $(VENV)/bin/python

.PHONY: venv test test-fast lint demo bench clean

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
ifeq ($(DEVICE),gpu)
	$(PY) -m pip install paddlepaddle-gpu -i $(PADDLE_GPU_INDEX)
else
	$(PY) -m pip install "$(PADDLE_CPU)"
endif
	$(PY) -m pip install -e ".[test,lint,onnx]"
	touch $@

venv: $(VENV)/.installed

# The default suite (pytest skips tests marked slow; run those with `pytest -m slow`).
test: venv
	$(PY) -m pytest -n 2

# No slow tests and none that start other processes.
test-fast: venv
	$(PY) -m pytest -n 2 -m "not slow and not subprocess"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: venv
	$(PY) -m recipes.demo_synthetic demo

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
