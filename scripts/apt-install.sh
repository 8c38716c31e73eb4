#!/usr/bin/env bash
# Install Debian packages with apt-get, as root or through sudo where sudo needs no password;
# elsewhere (no apt-get, no root, a password prompt) print the exact command and what is lost
# without it, and exit 0 (1 with --require). Shared by install-tex.sh and install-compiler.sh.
# usage: apt-install.sh [--require] WHAT WITHOUT PACKAGE...
#   WHAT: what is installed ("TeX Live"); WITHOUT: what happens without it ("paper/main.pdf will be skipped")
set -euo pipefail
REQUIRE=0
[ "${1:-}" = --require ] && { REQUIRE=1; shift; }
WHAT=$1 WITHOUT=$2
shift 2
CMD="apt-get install -y --no-install-recommends $*"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  SUDO=(env)
elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo env)
else
  echo "groklab: $WHAT is missing and cannot be installed here (needs apt-get as root or passwordless" \
       "sudo); $WITHOUT. To install it, run: sudo $CMD"
  [ "$REQUIRE" = 1 ] && exit 1
  exit 0
fi
t0=$SECONDS
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
echo "groklab: installed $WHAT ($*) in $((SECONDS - t0)) s"
