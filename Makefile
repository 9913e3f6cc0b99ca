# The Makefile only calls the CLI, pytest and the set-up (pipeline/system.py): the pipeline logic lives in pipeline/.
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

.PHONY: pdf html epub anki all dist check test lint bench clean setup setup-test system-build system-test

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

test: setup-test
	$(BIN)/pytest -q

lint: setup-test
	$(BIN)/ruff check pipeline tests
	$(BIN)/mypy

bench: setup-test
	$(BIN)/python bench/bench.py

# Every target sets up what it needs on first run: the system packages, the virtual environment,
# MathJax. Node.js comes from a PyPI wheel inside the virtual environment.
setup: system-build $(VENV)/.installed node_modules/.installed
setup-test: system-test $(VENV)/.installed-test node_modules/.installed

# The Debian packages (pipeline/system.py knows which): checked on every run by loading or running
# them (0.1 s), installed with apt-get when root; otherwise it prints the one `sudo apt-get` line, exit 2.
system-build system-test: system-%:
	$(PYTHON) -m pipeline.system install $*

# The first run creates the virtual environment and installs the project (with the test tools for
# the test targets); later runs reuse it until pyproject.toml changes. --no-compile: Python compiles
# what it imports when it first does, instead of pip compiling every file of every package up front.
$(VENV)/.installed: pyproject.toml | system-build
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -e .
	touch $@
$(VENV)/.installed-test: pyproject.toml | system-test
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -e '.[test]'
	touch $@ $(VENV)/.installed

# MathJax (TeX to SVG and MathML) runs in Node, pinned by package-lock.json; npm is the one of the
# Node.js wheel, so the machine needs neither.
node_modules/.installed: package.json package-lock.json | $(VENV)/.installed
	$(BIN)/python -m pipeline.system npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Keeps $(OUT)/anki-state.json: without it the next deck cannot tell Anki which notes changed.
clean:
	if [ -d $(OUT) ]; then find $(OUT) -mindepth 1 -maxdepth 1 ! -name anki-state.json -exec rm -rf {} +; fi
	rm -rf .cache
