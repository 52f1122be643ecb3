# Stageflow: `make run` installs and starts the engine with the example processes; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATABASE ?= sqlite:///stageflow.db
HOST ?= 127.0.0.1
PORT ?= 8080
PROCESS_FILES := $(wildcard processes/*.bpmn processes/*.dmn examples/*.bpmn)

.PHONY: install run test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: install
	STAGEFLOW_DATABASE_URL=$${STAGEFLOW_DATABASE_URL:-$(DATABASE)} \
		$(BIN)/stageflow user add demo --password demo-pass-1 --group admins --group sales --exist-ok
	@echo "demo credentials: user 'demo', password 'demo-pass-1' (groups admins, sales)"
	STAGEFLOW_DATABASE_URL=$${STAGEFLOW_DATABASE_URL:-$(DATABASE)} \
		$(BIN)/stageflow serve --host $(HOST) --port $(PORT) $(addprefix --deploy ,$(PROCESS_FILES))

test: install
	$(BIN)/ruff check engine web tests bench
	$(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check engine web tests bench

bench: install
	$(BIN)/python bench/engine_throughput.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache stageflow.db stageflow.db-wal stageflow.db-shm
