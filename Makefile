# Two entry points for a fresh machine: `make test` and `make demo`.
# DEVICE=cpu installs the CPU build of PaddlePaddle from PyPI; DEVICE=gpu expects the GPU build
# from PaddlePaddle's own package index (see README, "GPU install").
PYTHON ?= python3
VENV ?= .venv
DEVICE ?= cpu
PADDLE_CPU ?= paddlepaddle>=3.0
PADDLE_GPU_INDEX ?= https://www.paddlepaddle.org.cn/packages/stable/cu126/
PY := $(VENV)/bin/python

.PHONY: venv test demo bench clean

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
ifeq ($(DEVICE),gpu)
	$(PY) -m pip install paddlepaddle-gpu -i $(PADDLE_GPU_INDEX)
else
	$(PY) -m pip install "$(PADDLE_CPU)"
endif
	$(PY) -m pip install -e ".[test,onnx]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest

demo: venv
	$(PY) -m recipes.demo_synthetic demo

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
