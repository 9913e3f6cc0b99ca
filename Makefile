# The Makefile only calls the CLI or pytest: the pipeline logic lives in pipeline/.
CONTENT ?= content
OUT ?= output
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HANDBOOK := $(BIN)/handbook
BUILD := $(HANDBOOK) build --content $(CONTENT) --out $(OUT)

# One date for every output (cover, EPUB metadata, zip entries, Anki base time): the last commit's,
# unless the caller sets it. Same source + same SOURCE_DATE_EPOCH gives the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH

.PHONY: pdf html epub anki all dist check test lint bench clean setup

pdf: setup
	$(BUILD) pdf
html: setup
	$(BUILD) html
epub: setup
	$(BUILD) epub
anki: setup
	$(BUILD) anki
all: setup
	$(BUILD) all
dist: setup
	$(HANDBOOK) dist --content $(CONTENT) --out $(OUT)
check: setup
	$(HANDBOOK) check --content $(CONTENT)

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check pipeline tests
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/bench.py

setup: $(VENV)/.installed node_modules/.installed

# The first run creates the virtual environment and installs the project with its test tools;
# later runs reuse it until pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# MathJax (TeX to SVG and MathML) runs in Node, pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Keeps $(OUT)/anki-state.json: without it the next deck cannot tell Anki which notes changed.
clean:
	if [ -d $(OUT) ]; then find $(OUT) -mindepth 1 -maxdepth 1 ! -name anki-state.json -exec rm -rf {} +; fi
	rm -rf .cache
