#!/usr/bin/env bash
# The main job: make the machine ready, build, and bring up the all-three demo with `podkit up`
# (examples/all-three/pods.yaml). podkit up needs root (network and mount namespaces), so re-run under sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=PATH,PODKIT_DEMO_DIR,PODKIT_DEMO_PORT,PODKIT_DEMO_SYNC_PORT,PODKIT_DEMO_METRICS_PORT,PODKIT_DEMO_REDIS_PORT,PODKIT_DEMO_REDIS_REPLICA_PORT,PODKIT_STATE_DIR bash "$0" "$@"
  fi
  echo "demo: podkit up needs root for its namespaces; run this as root" >&2
  exit 1
fi
bash scripts/setup.sh
npm run --silent build
exec node scripts/demo.mjs "$@"
