#!/usr/bin/env bash
# The test command: setup, lint, typecheck, build, then every test (unit and integration, against real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== lint";      npx --no-install eslint .
echo "== typecheck"; npx --no-install tsc -p tsconfig.json --noEmit
echo "== build (tsc and the native addons)…"; npm run --silent build
echo "== tests";     node scripts/run-tests.mjs "$@"
