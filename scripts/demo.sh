#!/usr/bin/env bash
# The main job: make the machine ready, build, and run the podkit demo end to end against real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
exec node scripts/demo.mjs "$@"
