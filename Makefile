# Two commands do everything on a fresh machine with Python >= 3.10 and pip:
#   make run    install (once) and start the app on the bundled MNIST
#   make test   install (once) and run the tests
#   make screenshots   redraw the README's pictures (docs/img/*.svg) from a scripted run
# Paddle: paddlepaddle 3.3.1 (CPU) from PyPI; where an NVIDIA GPU is visible, paddlepaddle-gpu 3.3.1
# from Paddle's own package index, in the CUDA build the driver supports (PyPI's paddlepaddle-gpu
# stops at 2.6.2, CUDA 11.8: that one is used when the driver is older than CUDA 11.8's).
# Pick another build with PADDLE=... (and PADDLE_INDEX=... or PADDLE_INDEX= for PyPI); it goes
# into a venv of its own, e.g.
#   make test PADDLE="paddlepaddle==2.6.2"      # .venv-paddlepaddle-2.6.2
#   make install PADDLE="paddlepaddle-gpu==3.3.1" PADDLE_INDEX=https://www.paddlepaddle.org.cn/packages/stable/cu126/

PYTHON ?= python3
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
# The newest CUDA the driver runs ("CUDA Version: 12.4" in nvidia-smi's header), as 124.
DRIVER_CUDA := $(if $(HAS_GPU),$(shell nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9]*\)\.\([0-9]\).*/\1\2/p' | head -1))
CUDA_BUILD := $(shell c="$(DRIVER_CUDA)"; [ -z "$$c" ] && exit; \
	if [ $$c -ge 129 ]; then echo cu129; elif [ $$c -ge 126 ]; then echo cu126; elif [ $$c -ge 118 ]; then echo cu118; fi)
PADDLE_INDEX ?= $(if $(CUDA_BUILD),https://www.paddlepaddle.org.cn/packages/stable/$(CUDA_BUILD)/)
PADDLE_DEFAULT := $(if $(HAS_GPU),$(if $(CUDA_BUILD),paddlepaddle-gpu==3.3.1,paddlepaddle-gpu==2.6.2),paddlepaddle==3.3.1)
PADDLE ?= $(PADDLE_DEFAULT)
# Another Paddle build gets a venv of its own (.venv-paddlepaddle-2.6.2), so `make test PADDLE=...`
# tests that build and the default one stays as it was.
VENV ?= $(if $(filter $(PADDLE_DEFAULT),$(PADDLE)),.venv,.venv-$(subst ==,-,$(PADDLE)))
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install run test screenshots lint bench gpu-check clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet $(PADDLE) $(if $(PADDLE_INDEX),--index-url $(PADDLE_INDEX) --extra-index-url https://pypi.org/simple)
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/mnist-tui $(ARGS)

# The tests on two workers (pytest-xdist), each taking the next test as it is free: most tests use
# one core (a Paddle process, or the app), so two keep a 2-core machine busy. One file alone:
#   .venv/bin/python -m pytest -q tests/test_app.py
test: $(STAMP)
	$(VENV)/bin/ruff check mnist_tui tests tools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q -n 2 --dist worksteal

# The README's pictures, drawn by the app itself from fixed events (no Paddle, no training).
screenshots: $(STAMP)
	$(VENV)/bin/python tests/screenshots.py docs/img

bench: $(STAMP)
	$(VENV)/bin/python -m tools.bench $(ARGS)

# A short run on the GPU: the device, images/s, the first steps' losses next to the CPU's.
gpu-check: $(STAMP)
	$(VENV)/bin/python -m tools.gpu_check $(ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
