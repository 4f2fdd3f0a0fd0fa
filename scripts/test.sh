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

# Spread over this many processes (TEST_WORKERS=1 runs everything in one): the SQLite pass by
# pytest-xdist (each process on its own test database file, whole files together), the
# PostgreSQL + Redis pass as two halves side by side (each on its own database and Redis db).
cpus=$(nproc 2>/dev/null || echo 1)
workers=${TEST_WORKERS:-$(( cpus >= 2 ? 2 : 1 ))}

step "suite on SQLite + ORM broker"
if (( workers > 1 )); then
  .venv/bin/pytest -q -n "$workers" --dist loadfile "$@"
else
  .venv/bin/pytest -q "$@"
fi

if [[ -n "${TEST_DATABASE_URL:-}" && -n "${TEST_REDIS_URL:-}" ]]; then
  step "database- and queue-sensitive tests on PostgreSQL + Redis"
  # Halves of about the same length (tests/generations alone is close to half).
  first=(tests/generations tests/accounts)
  second=(tests/billing tests/simulator tests/providers tests/test_foundation.py tests/test_fuzz_inputs.py)
  # One half on "<database>_a" and Redis db 1, the other on "<database>_b" and db 2: nothing
  # shared, not even a cache flush between tests.
  pg_half() { # name redis-db paths...
    local name=$1 db=$2; shift 2
    DATABASE_URL="${TEST_DATABASE_URL}_$name" REDIS_URL="${TEST_REDIS_URL%/*}/$db" \
      .venv/bin/pytest -q -p no:cacheprovider -m "postgres or not e2e" "$@"
  }
  if (( workers > 1 )); then
    log_dir=$(mktemp -d)
    pg_half a 1 "${first[@]}" >"$log_dir/a" 2>&1 & first_pid=$!
    pg_half b 2 "${second[@]}" >"$log_dir/b" 2>&1 & second_pid=$!
    first_rc=0; second_rc=0
    wait "$first_pid" || first_rc=$?
    wait "$second_pid" || second_rc=$?
    echo "--- ${first[*]}"; cat "$log_dir/a"
    echo "--- ${second[*]}"; cat "$log_dir/b"
    rm -rf "$log_dir"
    (( first_rc == 0 && second_rc == 0 )) || exit 1
  else
    pg_half a 1 "${first[@]}" "${second[@]}"
  fi
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
