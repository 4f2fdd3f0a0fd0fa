# The two commands: `make run` (demo site on http://127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install install-dev migrate lint benchmarks soak clean messages

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --no-dev --python $(PYTHON) --quiet
	@touch $@

$(VENV)/.installed-dev: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON) --quiet
	@touch $(VENV)/.installed $@

# Compiled translations are built here, not committed (gettext's msgfmt; .ci/run installs it).
MO := locale/zh_Hans/LC_MESSAGES/django.mo
$(MO): locale/zh_Hans/LC_MESSAGES/django.po $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore=.venv --ignore=.tools --verbosity 0

install: $(VENV)/.installed $(MO)
install-dev: $(VENV)/.installed-dev $(MO)

migrate: install
	$(PY) manage.py migrate --noinput

run: install migrate
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Serving the site and its workers on http://127.0.0.1:8000  (Ctrl-C stops both)"
	@echo ""
	@exec $(PY) scripts/run_dev.py Procfile.dev

test: install-dev
	./scripts/test.sh

lint: install-dev
	$(VENV)/bin/ruff check .

# The chaos soak (docs/soak.md): SOAK_MINUTES=30 make soak, or SOAK_ARGS="--short --seed 42".
SOAK_MINUTES ?= 10
soak: install-dev
	nice -n 10 $(PY) scripts/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

benchmarks: install-dev
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# After marking new strings: refresh the catalogue, then translate the new entries.
messages: install-dev
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=.tools --ignore=staticfiles -e html,txt,py --no-obsolete --no-location

clean:
	rm -f $(MO)
	rm -rf $(VENV) $(TOOLS) .test-db.sqlite3* staticfiles test-artifacts
