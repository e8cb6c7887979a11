# One command runs the service, one runs the tests; both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: install run test test-fast lint model bench bench-intake bench-adversarial clean

# Serving needs the package alone; the tests and tools (Playwright, mypy, schemathesis, the
# peer model...) come with the dev extra, for make test only.
SERVE_STAMP := $(VENV)/.installed-serve

$(SERVE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

$(STAMP): $(SERVE_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The service on its embedded default: SQLite in var/, the shipped model, gunicorn on
# 127.0.0.1:$(PORT). A random secret is made once in var/secret_key (never a default).
var/secret_key:
	mkdir -p var
	$(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

# Plain HTTP on loopback: cookies without the Secure flag, the demo article page on. honcho
# runs the Procfile: gunicorn and the webhook deliverer (idle unless MODERATION_WEBHOOK_URL is set).
run: $(SERVE_STAMP) var/secret_key
	MODERATION_SECRET_KEY="$${MODERATION_SECRET_KEY:-$$(cat var/secret_key)}" $(BIN)/moderation db upgrade
	MODERATION_SECRET_KEY="$${MODERATION_SECRET_KEY:-$$(cat var/secret_key)}" PORT=$(PORT) \
		MODERATION_SESSION_COOKIE_SECURE="$${MODERATION_SESSION_COOKIE_SECURE:-false}" \
		MODERATION_DEMO_PAGE="$${MODERATION_DEMO_PAGE:-true}" PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/honcho --no-colour --procfile Procfile start

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Retrain (deterministic: same data, same bytes) into var/models and activate the new version if
# it passes the quality gate (training/checks/floors.json, and no worse than the active model).
# The shipped version in models/ is never touched (--models-dir models writes there).
model: $(STAMP)
	$(BIN)/moderation train --activate

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_model.py

bench-intake: $(STAMP)
	$(BIN)/python benchmarks/bench_intake.py

bench-adversarial: $(STAMP)
	$(BIN)/python benchmarks/bench_adversarial.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
