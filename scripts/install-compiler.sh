#!/usr/bin/env bash
# Install a C++ compiler and Python's headers, which torch.compile's CPU backend (inductor) needs
# to build the fused training step (training.compile; docs/training.md). Without them training
# runs eagerly (same results up to rounding, slower) and says so once. `--require` makes a
# failure to install an error (CI). GROKLAB_SKIP_COMPILER=1 skips the step.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
INCLUDE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
if [ "${GROKLAB_SKIP_COMPILER:-0}" = 1 ] || { command -v g++ >/dev/null 2>&1 && [ -f "$INCLUDE/Python.h" ]; }; then
  exit 0
fi
REQUIRE=()
[ "${1:-}" = --require ] && REQUIRE=(--require)
exec bash scripts/apt-install.sh "${REQUIRE[@]}" "a C++ compiler for torch.compile" \
  "training.compile falls back to eager training" g++ python3-dev
