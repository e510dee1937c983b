#!/usr/bin/env bash
# The main job: make the machine ready for the demo (only the demo's Debian packages), build, and bring up the
# all-three demo with `podkit up` (examples/all-three/pods.yaml). podkit up needs root (network and mount
# namespaces): as root it just runs; otherwise it re-runs itself under sudo when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=PATH,PODKIT_DEMO_DIR,PODKIT_DEMO_PORT,PODKIT_DEMO_SYNC_PORT,PODKIT_DEMO_METRICS_PORT,PODKIT_DEMO_REDIS_PORT,PODKIT_DEMO_REDIS_REPLICA_PORT,PODKIT_DEMO_RESET,PODKIT_STATE_DIR bash "$0" "$@"
  fi
  echo "demo: podkit up needs root for its namespaces; run this as root" >&2
  exit 1
fi
t0=$(date +%s%N)
bash scripts/setup.sh --demo
t1=$(date +%s%N)
echo "demo: building podkit (tsc and the native addons)…"
npm run --silent build
echo "demo: set-up $(( (t1 - t0) / 1000000 )) ms, build $(( ($(date +%s%N) - t1) / 1000000 )) ms"
PODKIT_DEMO_T0_MS=$(( t0 / 1000000 )) exec node scripts/demo.mjs "$@"
