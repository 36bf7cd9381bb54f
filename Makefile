# Vigil. `make run` and `make test` work on a fresh machine: they install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
VIGIL := $(VENV)/bin/vigil
STATIC := src/vigil/web/static/vendor
PG_VERSION_DIR := $(firstword $(wildcard /etc/postgresql/*))

.PHONY: translations messages help install run test lint typecheck pytest bench postgres assets browser clean

help:
	@echo "make run    - install, migrate, seed demo data if empty, serve on http://127.0.0.1:8000"
	@echo "make test   - install, then ruff, mypy --strict and pytest on SQLite and PostgreSQL"
	@echo "make bench  - benchmarks (results belong in docs/benchmarks.md)"

# uv itself comes from pip when missing; Python packages come from uv.lock into .venv/.
$(VENV)/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# Front-end assets from npm (package-lock.json), copied into the static folder Vigil serves.
$(STATIC)/.built: package.json package-lock.json src/vigil/web/assets/vigil.scss
	npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(STATIC)/swagger-ui $(STATIC)/govuk/assets
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE} $(STATIC)/swagger-ui/
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(STATIC)/govuk/
	cp -r node_modules/govuk-frontend/dist/govuk/assets/images $(STATIC)/govuk/assets/
	cp node_modules/govuk-frontend/LICENSE.txt $(STATIC)/govuk/ 2>/dev/null || true
	mkdir -p $(STATIC)/cytoscape && cp node_modules/cytoscape/dist/cytoscape.min.js $(STATIC)/cytoscape/
	mkdir -p $(STATIC)/leaflet && cp -r node_modules/leaflet/dist/{leaflet.js,leaflet.css,images} node_modules/leaflet/LICENSE $(STATIC)/leaflet/
	node_modules/.bin/sass --load-path=node_modules --style=compressed --no-source-map --quiet-deps \
	  src/vigil/web/assets/vigil.scss src/vigil/web/static/vigil.css
	@touch $@

# English and Welsh catalogues: the .po files are committed, the .mo files are built here.
CATALOGUES := $(wildcard src/vigil/translations/*/LC_MESSAGES/messages.po)
$(CATALOGUES:.po=.mo): %.mo: %.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile --use-fuzzy -f -i $< -o $@ -l $(word 4,$(subst /, ,$<))

translations: $(CATALOGUES:.po=.mo)

# For developers after changing text: extract every string and update both catalogues.
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k said --no-location --sort-output -o src/vigil/translations/messages.pot src/vigil
	$(VENV)/bin/pybabel update --no-fuzzy-matching -i src/vigil/translations/messages.pot -d src/vigil/translations
	$(VENV)/bin/python tools/fill_english_catalogue.py

install: $(VENV)/.installed $(STATIC)/.built translations

run: install
	mkdir -p var
	$(VIGIL) db upgrade
	$(VIGIL) demo seed --if-empty
	$(VIGIL) serve

# Start the machine's PostgreSQL when it is installed but not running.
postgres:
	@if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -q; then \
	  if [ -n "$(PG_VERSION_DIR)" ]; then \
	    pg_ctlcluster --skip-systemctl-redirect $(notdir $(PG_VERSION_DIR)) main start; \
	    for i in $$(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done; \
	  fi; \
	fi

# Browser tests drive Debian's Chromium; it is installed here, never downloaded by a test tool.
# The case meeting pack (PDF) prints Welsh letters with DejaVu Sans when it is installed.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { apt-get update -qq && apt-get install -y -qq fonts-dejavu-core; }

lint: install
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools

typecheck: install
	$(VENV)/bin/mypy --strict src

# One pytest worker per core (at most 4): each worker is its own test session with its own
# databases, so they never share rows. Files run whole, slow files first (tests/conftest.py).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

pytest: install postgres browser
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint typecheck pytest

# The intake benchmark loads the server with wrk (C, two threads): a Python load generator
# would take most of the second core and measure itself.
bench: install postgres browser
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(VENV)/bin/python benchmarks/intake.py
	$(VENV)/bin/python benchmarks/intake.py --processes 2
	$(VENV)/bin/python benchmarks/pages.py
	$(VENV)/bin/python benchmarks/pages.py --processes 2 --no-weights
	$(VENV)/bin/python benchmarks/policy.py
	$(VENV)/bin/python benchmarks/triage_quality.py
	$(VENV)/bin/python benchmarks/triage_quality.py --split test
	$(VENV)/bin/python benchmarks/triage_speed.py
	$(VENV)/bin/python benchmarks/linkage.py
	$(VENV)/bin/python benchmarks/console.py
	$(VENV)/bin/python benchmarks/startup.py

clean:
	rm -rf $(VENV) node_modules $(STATIC) .mypy_cache .pytest_cache .ruff_cache test-artifacts
