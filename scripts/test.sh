#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it:
#   1. ruff and migration checks;
#   2. every test on SQLite with the django-q2 ORM broker;
#   3. the database- and queue-sensitive tests again on PostgreSQL + Redis, when
#      TEST_DATABASE_URL and TEST_REDIS_URL are set (CI always sets them);
#   4. the browser journeys in Chromium, when Debian's chromium is installed;
#   5. the scale-out proof (two qcluster processes) on PostgreSQL + Redis, with step 3;
#   6. the short chaos soak (docs/soak.md; its own PostgreSQL and Redis), with step 3.
# Steps 3 and 4 say clearly when they are skipped; in CI (CI=true) skipping is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
unset DATABASE_URL REDIS_URL

step() { printf '\n=== %s\n' "$*"; }

step "ruff"
.venv/bin/ruff check .
step "migrations are up to date"
$PY manage.py makemigrations --check --dry-run >/dev/null || { echo "Missing migrations: run manage.py makemigrations"; exit 1; }

step "suite on SQLite + ORM broker"
# TEST_WORKERS=N spreads it over N pytest-xdist processes (each on its own test database file); whole files
# stay together. Serial by default: some simulator tests still depend on what ran before them.
workers=${TEST_WORKERS:-1}
if (( workers > 1 )); then
  .venv/bin/pytest -q -n "$workers" --dist loadfile "$@"
else
  .venv/bin/pytest -q "$@"
fi

if [[ -n "${TEST_DATABASE_URL:-}" && -n "${TEST_REDIS_URL:-}" ]]; then
  step "database- and queue-sensitive tests on PostgreSQL + Redis"
  paths=()
  for p in tests/billing tests/generations tests/accounts tests/providers tests/simulator tests/test_foundation.py tests/test_fuzz_inputs.py; do [[ -e $p ]] && paths+=("$p"); done
  DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL" .venv/bin/pytest -q -m "postgres or not e2e" "${paths[@]}"
elif [[ "${CI:-}" == "true" ]]; then
  echo "CI must run the PostgreSQL + Redis pass: TEST_DATABASE_URL and TEST_REDIS_URL are not set"; exit 1
else
  echo "SKIPPED: PostgreSQL + Redis pass (set TEST_DATABASE_URL and TEST_REDIS_URL to run it)"
fi

if command -v chromium >/dev/null 2>&1; then
  if [[ -d tests/e2e ]]; then
    step "browser journeys in Chromium"
    .venv/bin/pytest -q -m e2e tests/e2e
  fi
elif [[ "${CI:-}" == "true" ]]; then
  echo "CI must run the browser journeys: chromium is not installed"; exit 1
else
  echo "SKIPPED: browser journeys (install Debian's chromium to run them)"
fi

if [[ -n "${TEST_DATABASE_URL:-}" && -n "${TEST_REDIS_URL:-}" && -d tests/e2e ]]; then
  step "scale-out: two qcluster processes on PostgreSQL + Redis"
  DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL" .venv/bin/pytest -q -m "e2e and postgres" tests/e2e
fi

if [[ -n "${TEST_DATABASE_URL:-}" && -n "${TEST_REDIS_URL:-}" ]]; then
  step "chaos soak, short form (docs/soak.md)"
  nice -n 10 $PY scripts/soak.py --short
fi
