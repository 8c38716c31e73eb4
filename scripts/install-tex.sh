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
REQUIRE=()
[ "${1:-}" = --require ] && REQUIRE=(--require)
exec bash scripts/apt-install.sh "${REQUIRE[@]}" "TeX Live" "paper/main.pdf will be skipped" "${PACKAGES[@]}"
