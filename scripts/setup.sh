#!/usr/bin/env bash
# Create .venv and install groklab with its dependencies, and TeX Live for the paper (idempotent).
# CPU machines get torch's CPU build: `pip install torch==2.13.0` takes the local CPU wheel
# where pip is configured with one; elsewhere set TORCH_INDEX_URL (e.g. PyTorch's CPU index)
# so that no multi-GB CUDA build is pulled onto a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "${PIP[@]}" "torch>=2.4"
  elif [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${PIP[@]}" torch --index-url "$TORCH_INDEX_URL"
  else
    "${PIP[@]}" "torch==2.13.0"
  fi
fi
"${PIP[@]}" -e ".[test]"
# TeX Live for paper/main.pdf (the list is scripts/tex-packages.txt, shared with .ci/run): installed
# with apt-get as root or passwordless sudo; elsewhere the exact command is printed and setup goes on.
bash scripts/install-tex.sh
# g++ and Python's headers for torch.compile's CPU backend (training.compile); without them training runs eagerly
bash scripts/install-compiler.sh
.venv/bin/python -c "import groklab, torch; print(f'groklab {groklab.__version__} ready (torch {torch.__version__}, cuda={torch.cuda.is_available()})')"
