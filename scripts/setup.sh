#!/usr/bin/env bash
# Make a fresh Debian machine ready to build, test and run podkit. Idempotent: installs only what is missing.
#   - Debian packages (apt-get, only when root and something is missing): with --demo only the demo's (DEMO_PKGS:
#     what `npm run demo` runs), otherwise every one the tests need (PKGS)
#   - npm dependencies (npm ci, skipped when node_modules already matches package-lock.json)
#   - Redis's own test suite (tests/ of the installed redis-server's version, from Debian's source package) under
#     /var/cache/podkit/redis-suite/redis-VERSION (machine-wide, beside apt's own caches: every checkout and worktree
#     uses it; PODKIT_REDIS_SUITE_CACHE moves it): the ambassador's suite test runs it (not with --demo)
#   - `podkit` on the PATH: a link to this checkout's dist/cli/main.js in npm's global bin (what `npm link` makes)
# --check only reports what is missing (exit 1 when anything is); --list prints the packages wanted, one a line. PODKIT_SETUP_EXTRA="pkg=/path …" adds requirements.
# PODKIT_SETUP_TIMES=1 prints how long each step took.
set -euo pipefail
check_only=0; demo_only=0; list_only=0
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    --demo) demo_only=1 ;;
    --list) list_only=1 ;;
    *) echo "setup: unknown argument $arg (use --check, --demo, --list)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
as_root=0; [ "$(id -u)" = 0 ] && as_root=1
sudo_=''; [ $as_root = 0 ] && command -v sudo >/dev/null && sudo_='sudo '
t_start=$(date +%s%N)
took() { [ -n "${PODKIT_SETUP_TIMES:-}" ] && echo "setup: $1 took $(( ($(date +%s%N) - $2) / 1000000 )) ms"; return 0; }

# package → a file it installs (checked instead of dpkg state, so hand-built binaries also count)
declare -A PKGS=(
  [git]=/usr/bin/git
  [redis-server]=/usr/bin/redis-server
  [redis-sentinel]=/usr/bin/redis-sentinel
  [redis-tools]=/usr/bin/redis-cli
  [nutcracker]=/usr/sbin/nutcracker
  [nginx]=/usr/sbin/nginx
  [prometheus]=/usr/bin/promtool
  [prometheus-redis-exporter]=/usr/bin/prometheus-redis-exporter   # the peer the redis source is compared with, side by side
  [prometheus-nginx-exporter]=/usr/bin/prometheus-nginx-exporter   # the peer the nginx source is compared with, side by side
  [python3]=/usr/bin/python3
  [gcc]=/usr/bin/gcc          # with make and python3: node-gyp builds native/udp-batch and native/conn-io (npm run build)
  [make]=/usr/bin/make
  [libc6-dev]=/usr/include/errno.h   # the C headers: gcc without its recommended packages has none
  [g++]=/usr/bin/g++                 # node-gyp links the addons with the C++ driver
  [iproute2]=/usr/sbin/ip
  [util-linux]=/usr/bin/unshare     # also setpriv: the git-sync tests run it as uid 65534
  [mount]=/usr/bin/mount             # the git-sync full-volume test mounts a small tmpfs
  [openssh-server]=/usr/sbin/sshd
  [openssh-client]=/usr/bin/ssh-keygen
  [openjdk-17-jdk-headless]=/usr/lib/jvm/java-17-openjdk-amd64/bin/javac
  [libjolokia-core-java]=/usr/share/java/jolokia-core.jar
  [procps]=/usr/bin/pgrep
  [curl]=/usr/bin/curl
  [openssl]=/usr/bin/openssl
  [chromium]=/usr/bin/chromium   # the status page test opens the page in headless Chromium
  [crun]=/usr/bin/crun           # the OCI runtime that runs containers from images
  [runc]=/usr/sbin/runc          # --oci-runtime runc
  [busybox-static]=/bin/busybox  # the container tests' root filesystems
  [skopeo]=/usr/bin/skopeo              # podkit load/save (the archive formats); bench images: the peer
  [attr]=/usr/bin/setfattr              # opaque directories of unpacked layers (trusted.overlay.opaque)
  [docker-registry]=/usr/bin/docker-registry  # tests: a real registry
  [umoci]=/usr/bin/umoci                # bench images: skopeo copy + umoci raw unpack, the unpack half of a pull
  [podman]=/usr/bin/podman              # bench pod: podman kube play, the peer of podkit up, in the same run
  [catatonit]=/usr/bin/catatonit        # podman's pause binary (a recommended package, which apt here does not install)
  [apache2-utils]=/usr/bin/htpasswd     # tests: the registry's htpasswd (bcrypt)
  [netcat-openbsd]=/bin/nc.openbsd      # tests: `printf … | nc -q0` against the redis ambassador
  [python3-redis]=/usr/lib/python3/dist-packages/redis/__init__.py  # tests: redis-py against the redis ambassador
  [tcl]=/usr/bin/tclsh                  # tests: Redis's own test suite against the redis ambassador (see below)
  [golang-docker-credential-helpers]=/usr/bin/docker-credential-pass  # tests: a real credential helper for pulls
  [pass]=/usr/bin/pass                  # the store docker-credential-pass keeps credentials in (gpg-encrypted)
)

# The demo's share of PKGS: what `npm run demo` (scripts/setup.sh --demo) installs. The rest is for the tests only
# (the JDK, prometheus, nutcracker, sshd… are several hundred MB the demo never runs).
DEMO_PKGS=(
  git
  redis-server
  redis-tools
  nginx
  python3 gcc g++ make libc6-dev   # native addons (npm ci, npm run build)
  iproute2                    # ip netns, veth: the pods' network
  util-linux                  # unshare, nsenter, mount: the pods' namespaces
  crun                        # containers from images
  procps
  curl openssl                # the push hook signs git-sync's trigger (and the "try it" lines)
)

for extra in ${PODKIT_SETUP_EXTRA:-}; do PKGS[${extra%%=*}]=${extra#*=}; [ $demo_only = 1 ] && DEMO_PKGS+=("${extra%%=*}"); done

wanted=("${!PKGS[@]}")
[ $demo_only = 1 ] && wanted=("${DEMO_PKGS[@]}")
[ $list_only = 1 ] && { printf '%s\n' "${wanted[@]}" | sort; exit 0; }
missing=()
for pkg in "${wanted[@]}"; do
  [ -n "${PKGS[$pkg]:-}" ] || { echo "setup: DEMO_PKGS names $pkg, which PKGS lacks" >&2; exit 2; }
  [ -e "${PKGS[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ $check_only = 0 ] && [ $as_root = 1 ] && command -v apt-get >/dev/null; then
    t=$(date +%s%N)
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
    took apt "$t"
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    if [ $as_root = 1 ] || [ -n "$sudo_" ]; then
      echo "setup: install them with: ${sudo_}apt-get install ${missing[*]}" >&2
    else
      echo "setup: install them as root with: apt-get install ${missing[*]}" >&2
    fi
    exit 1
  fi
fi

# Redis's own test suite, for the installed server's version: Debian's source package (a deb-src entry is added when
# the machine has none). Only the orig tarball is fetched; it is extracted once per version.
suite_cache="${PODKIT_REDIS_SUITE_CACHE:-/var/cache/podkit/redis-suite}"
suite_dir="$suite_cache/redis-$(redis-server --version 2>/dev/null | sed -n 's/.* v=\([0-9.]*\) .*/\1/p')"
if [ $demo_only = 0 ] && [ ! -e "$suite_dir/tests/test_helper.tcl" ]; then
  if [ $check_only = 0 ] && [ $as_root = 1 ] && command -v apt-get >/dev/null; then
    t=$(date +%s%N)
    echo "setup: fetching Redis's test suite into $suite_dir (apt-get source redis)"
    if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" "$codename" > /etc/apt/sources.list.d/podkit-src.sources
    fi
    apt-get update -qq
    mkdir -p $suite_cache/download
    (cd $suite_cache/download && apt-get source --download-only -qq redis >/dev/null)
    tarball=$(ls $suite_cache/download/redis_"${suite_dir##*redis-}".orig.tar.gz)
    tar -xzf "$tarball" -C "$suite_cache"
    rm -rf $suite_cache/download
    [ -e "$suite_dir/tests/test_helper.tcl" ] || { echo "setup: $tarball holds no tests/test_helper.tcl" >&2; exit 1; }
    took "redis suite" "$t"
  else
    echo "setup: missing Redis's test suite ($suite_dir): run this script as root to fetch it (apt-get source redis)" >&2
    exit 1
  fi
fi
[ $check_only = 1 ] && { echo "setup: all Debian packages present, and Redis's test suite"; exit 0; }

# Servers installed from packages may have been started by their maintainer scripts; the tests start their own.
for svc in redis-server redis-sentinel nginx prometheus prometheus-redis-exporter prometheus-nginx-exporter ssh; do
  if command -v service >/dev/null && [ $as_root = 1 ]; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.podkit-lock ] || [ "$(cat node_modules/.podkit-lock)" != "$lock_hash" ]; then
  echo "setup: npm ci"
  t=$(date +%s%N)
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.podkit-lock
  took "npm ci" "$t"
fi

# `podkit` on the PATH, as `npm link` would put it (a link into this checkout, so a rebuild is live at once).
main="$(pwd)/dist/cli/main.js"
if [ "$(readlink -f "$(command -v podkit 2>/dev/null || true)" 2>/dev/null)" != "$main" ]; then
  bin="$(npm prefix -g 2>/dev/null)/bin"
  if [ -d "$bin" ] && [ -w "$bin" ] && ln -sfn "$main" "$bin/podkit" 2>/dev/null; then
    echo "setup: podkit is on the PATH ($bin/podkit → $main)"
    case ":$PATH:" in *":$bin:"*) ;; *) echo "setup: add $bin to your PATH to type podkit (or use npx podkit)" ;; esac
  else
    echo "setup: cannot link podkit into $bin (not writable): run it as npx podkit from this folder, or ${sudo_}ln -s $main $bin/podkit"
  fi
fi
took setup "$t_start"
echo "setup: ready"
