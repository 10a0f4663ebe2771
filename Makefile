# meshdash: `make run` starts the demo dashboard, `make test` installs what tests need and runs them.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := prometheus chromium chromium-driver redis-server
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: run serve deps test-deps test lint format bench screenshot

run: deps
	$(PYTHON) app.py --host $(HOST) --port $(PORT)

deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt

test-deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

test: test-deps
	$(PYTHON) -m ruff check .
	$(PYTHON) -c "import sys, importlinter.cli as c; sys.exit(c.lint_imports())"
	PYTHONFAULTHANDLER=1 $(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -c "import sys, importlinter.cli as c; sys.exit(c.lint_imports())"

format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench:
	$(PYTHON) bench/graph_scale.py

# The README's picture, taken from the current demo with the browser tests' Chromium.
screenshot: test-deps
	$(PYTHON) docs/demo_screenshot.py

# Production serving: gunicorn (gunicorn.conf.py) with JSON logs and /healthz, /readyz, /metrics.
# Settings from MESHDASH_* variables; WORKERS overrides the default (2, or 1 in demo mode).
serve: deps
	MESHDASH_BIND=$(HOST):$(PORT) $(if $(WORKERS),MESHDASH_WORKERS=$(WORKERS)) \
	  $(PYTHON) -m gunicorn --config gunicorn.conf.py wsgi:server
