# Two commands do everything on a fresh machine with Python >= 3.10 and pip:
#   make run    install (once) and start the app on the bundled MNIST
#   make test   install (once) and run the tests
# Paddle: paddlepaddle-gpu where an NVIDIA GPU is visible, paddlepaddle (CPU) otherwise.
# Pick another build with PADDLE=..., e.g. make install PADDLE="paddlepaddle==3.2.2".

PYTHON ?= python3
VENV ?= .venv
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
PADDLE ?= $(if $(HAS_GPU),paddlepaddle-gpu,paddlepaddle==3.3.1)
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet $(PADDLE)
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/mnist-tui $(ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check mnist_tui tests
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python -m mnist_tui.bench $(ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
