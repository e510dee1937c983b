#!/usr/bin/env bash
# Make a fresh Debian machine ready to build, test and run podkit. Idempotent: installs only what is missing.
#   - Debian packages the tests and the demo need (apt-get, only when root and something is missing)
#   - npm dependencies (npm ci, skipped when node_modules already matches package-lock.json)
# --check only reports what is missing (exit 1 when anything is). PODKIT_SETUP_EXTRA="pkg=/path …" adds requirements.
set -euo pipefail
check_only=0; [ "${1:-}" = "--check" ] && check_only=1
cd "$(dirname "$0")/.."

# package → a file it installs (checked instead of dpkg state, so hand-built binaries also count)
declare -A PKGS=(
  [git]=/usr/bin/git
  [redis-server]=/usr/bin/redis-server
  [redis-sentinel]=/usr/bin/redis-sentinel
  [redis-tools]=/usr/bin/redis-cli
  [nutcracker]=/usr/sbin/nutcracker
  [nginx]=/usr/sbin/nginx
  [prometheus]=/usr/bin/promtool
  [python3]=/usr/bin/python3
  [gcc]=/usr/bin/gcc          # with make and python3: node-gyp builds native/udp-batch and native/conn-io (npm run build)
  [make]=/usr/bin/make
  [iproute2]=/usr/sbin/ip
  [util-linux]=/usr/bin/unshare
  [openssh-server]=/usr/sbin/sshd
  [openssh-client]=/usr/bin/ssh-keygen
  [openjdk-17-jdk-headless]=/usr/lib/jvm/java-17-openjdk-amd64/bin/javac
  [libjolokia-core-java]=/usr/share/java/jolokia-core.jar
  [procps]=/usr/bin/pgrep
  [curl]=/usr/bin/curl
  [openssl]=/usr/bin/openssl
)

for extra in ${PODKIT_SETUP_EXTRA:-}; do PKGS[${extra%%=*}]=${extra#*=}; done

missing=()
for pkg in "${!PKGS[@]}"; do
  [ -e "${PKGS[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ $check_only = 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packages' own services (redis, nginx, prometheus) from starting: tests start their own.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
[ $check_only = 1 ] && { echo "setup: all Debian packages present"; exit 0; }

# Servers installed from packages may have been started by their maintainer scripts; the tests start their own.
for svc in redis-server redis-sentinel nginx prometheus ssh; do
  if command -v service >/dev/null && [ "$(id -u)" = 0 ]; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.podkit-lock ] || [ "$(cat node_modules/.podkit-lock)" != "$lock_hash" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.podkit-lock
fi
echo "setup: ready"
