# privmarket: the two set-up commands of the README, and a few helpers.
#   make run        install, then start the dashboard on the default world (prints the address)
#   make test       install with the test tools, then run lint and the whole test suite
#   make baseline   install, then one command-line run of the default world to out/baseline
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run dashboard baseline test lint format bench clean

$(STAMP): pyproject.toml
	@py=$$(scripts/find-python.sh) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$py"; $$py -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: dashboard

dashboard: install
	$(VENV)/bin/privmarket dashboard

baseline: install
	$(VENV)/bin/privmarket run baseline --out out/baseline --overwrite

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
	$(VENV)/bin/privmarket bench --overwrite

# results in out/ are kept: they may be a user's; delete them by hand
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
