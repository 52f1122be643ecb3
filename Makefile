# Stageflow: `make run` installs and starts the engine with the example processes; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATABASE ?= sqlite:///stageflow.db
HOST ?= 127.0.0.1
PORT ?= 8080
PROCESS_FILES := $(wildcard processes/*.bpmn processes/*.dmn examples/*.bpmn)

.PHONY: install run test lint bench clean browser

install: $(VENV)/.installed web/static/build/.built

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# bpmn-js, its Camunda 7 properties panel and their fonts, from the npm registry by web/assets/package-lock.json,
# bundled into web/static/build so that the inbox works with no internet.
web/static/build/.built: web/assets/package.json web/assets/package-lock.json web/assets/build.mjs $(wildcard web/assets/src/*.js)
	cd web/assets && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $@

run: install
	for who in "demo admins sales" "mary sales" "john sales" "sam sales-heads" "lena loyalty-ops" \
	           "lars loyalty-heads" "wes warehouse"; do set -- $$who; name=$$1; shift; \
		STAGEFLOW_DATABASE_URL=$${STAGEFLOW_DATABASE_URL:-$(DATABASE)} $(BIN)/stageflow user add $$name \
			--password demo-pass-1 $$(for g in "$$@"; do printf -- '--group %s ' $$g; done) --exist-ok; done
	@echo "demo users, all with password 'demo-pass-1': demo (admins, sales), mary and john (sales), sam (sales-heads), lena (loyalty-ops), lars (loyalty-heads), wes (warehouse)"
	STAGEFLOW_DATABASE_URL=$${STAGEFLOW_DATABASE_URL:-$(DATABASE)} \
		$(BIN)/stageflow serve --host $(HOST) --port $(PORT) $(addprefix --deploy ,$(PROCESS_FILES))

test: install browser
	$(BIN)/ruff check engine web tests bench
	$(BIN)/pytest -n 2 -q

# The inbox's browser tests drive Debian's chromium (Playwright's own browser download is never used).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "the browser tests need Debian's chromium: sudo apt-get install chromium (they are skipped without it)"; \
		fi; \
	fi

lint: install
	$(BIN)/ruff check engine web tests bench

bench: install
	$(BIN)/python bench/engine_throughput.py

clean:
	rm -rf $(VENV) web/assets/node_modules web/static/build *.egg-info .pytest_cache .ruff_cache stageflow.db stageflow.db-wal stageflow.db-shm
