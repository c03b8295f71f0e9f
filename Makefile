# privmarket: the two set-up commands of the README, and a few helpers.
#   make run    install, then run the main job on the embedded default
#   make test   install with the test tools, then run lint and the whole test suite
#   make dashboard  install, then serve the browser dashboard (prints the address to open)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run dashboard test lint format bench clean

$(STAMP): pyproject.toml
	@py=$$(scripts/find-python.sh) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$py"; $$py -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/privmarket run baseline --out out/baseline

dashboard: install
	$(VENV)/bin/privmarket dashboard

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install lint
	@scripts/install-browser.sh
	$(PY) -m pytest

bench: install
	$(VENV)/bin/privmarket bench

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
