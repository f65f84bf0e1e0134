#!/usr/bin/env bash
# One short GPU check of the product's own code paths with random weights (no download):
# ViT-L-14 fp16 embedding end to end, an FT step, a DR fold, an apply shard, a zero-shot eval.
# Prints one line per figure (see bench/gpu_check.py). Refuses a machine without CUDA.
#
#   bench/gpu_check.sh              # on a CUDA host, ~3-5 minutes on one H100/H200
#   bench/gpu_check.sh --dry-run    # anywhere: CPU, tiny models, checks the wiring only
#   bench/gpu_check.sh --only embed # one figure
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
if [ ! -x "$PY" ]; then PY="$(command -v python3)"; fi
dry=0
for arg in "$@"; do [ "$arg" = "--dry-run" ] && dry=1; done
if [ "$dry" = 0 ]; then
  if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check: no CUDA device visible to torch (torch.cuda.is_available() is False)." >&2
    echo "gpu_check: run it on a GPU host, or pass --dry-run to check the wiring on CPU." >&2
    exit 2
  fi
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/gpu: /'
  fi
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec "$PY" bench/gpu_check.py "$@"
