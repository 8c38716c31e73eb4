#!/usr/bin/env bash
# Install the TeX packages of scripts/tex-packages.txt with apt-get, so that the pipeline builds
# paper/main.pdf. Runs apt-get as root, or through sudo where sudo needs no password; elsewhere
# (no apt-get, no root, a password prompt) it prints the exact command and exits 0, and the
# pipeline then skips only the PDF with a one-line notice. `--require` makes that case an error
# (CI). GROKLAB_SKIP_TEX=1 skips the whole step.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t PACKAGES < <(grep -v '^\s*#' scripts/tex-packages.txt | grep -v '^\s*$')
if [ "${GROKLAB_SKIP_TEX:-0}" = 1 ] || { command -v latexmk && command -v pdftoppm; } >/dev/null 2>&1; then
  exit 0
fi
CMD="apt-get install -y --no-install-recommends ${PACKAGES[*]}"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  SUDO=(env)
elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo env)
else
  echo "groklab: TeX Live is missing and cannot be installed here (needs apt-get as root or passwordless" \
       "sudo); paper/main.pdf will be skipped. To build it, run: sudo $CMD"
  [ "${1:-}" = --require ] && exit 1
  exit 0
fi
t0=$SECONDS
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "groklab: installed TeX Live (${PACKAGES[*]}) in $((SECONDS - t0)) s"
