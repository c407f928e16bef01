# The verbs a person uses. Each works from a fresh clone: `make demo` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup demo test lint synth deploy bench mutate snapshot-update digest clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(VENV)/bin/finetune rehearse

test: setup lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

synth: setup
	npx cdk synth --quiet --no-notices

deploy: setup
	npx cdk deploy --all --no-notices

# PEER="CMD {file}" also times another validator against `finetune validate` (README, Benchmarks).
bench: setup
	$(PY) bench/bench_validator.py $(if $(PEER),--peer "$(PEER)")
	$(PY) bench/bench_score.py --lines 100000 --repeat 5

# Mutation testing of the money-and-trust modules ([tool.mutmut] in pyproject.toml, results in docs/mutation.md).
# Slow (about an hour on two cores), so neither CI nor `make test` runs it. MUTANTS narrows it to name globs,
# e.g. make mutate MUTANTS='lambdas.trigger.*'; `mutmut show <name>` prints one mutant's diff.
MUTANTS ?=
mutate: setup
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(PY) tools/mutation_summary.py --survivors

digest: setup
	$(PY) tools/security_digest.py --write

snapshot-update: setup
	$(VENV)/bin/pytest tests/infra/test_snapshots.py --snapshot-update

clean:
	rm -rf $(VENV) node_modules cdk.out
