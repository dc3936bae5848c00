#!/usr/bin/env bash
# The whole suite on SQLite and, when PostgreSQL answers (always under CI=true), on PostgreSQL at the same time:
# each pytest run keeps one core busy, so side by side they take about as long as one. The PostgreSQL run's output
# is kept in test-artifacts/postgres-suite.log and printed after the SQLite run's.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
mkdir -p test-artifacts
log=test-artifacts/postgres-suite.log
postgres_pid=""
if "$BIN/python" scripts/postgres_ready.py; then
	echo "PostgreSQL run started alongside (output: $log)"
	SIYU_TEST_DATABASE=postgres "$BIN/pytest" "$@" >"$log" 2>&1 &
	postgres_pid=$!
elif [ "${CI:-}" = "true" ]; then
	echo "PostgreSQL is required under CI=true but 127.0.0.1:5432 is unreachable" >&2
	exit 1
else
	echo "PostgreSQL not reachable: skipped the PostgreSQL run"
fi
SIYU_TEST_DATABASE=sqlite "$BIN/pytest" "$@"
sqlite_status=$?
postgres_status=0
if [ -n "$postgres_pid" ]; then
	wait "$postgres_pid"
	postgres_status=$?
	echo "----- PostgreSQL run -----"
	cat "$log"
fi
echo "SQLite run: exit $sqlite_status; PostgreSQL run: exit $postgres_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
