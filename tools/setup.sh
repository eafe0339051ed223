#!/usr/bin/env bash
# Set up humanrecon in a virtual environment (default: ./.venv).
#
#   bash tools/setup.sh            # the library and its CLI
#   bash tools/setup.sh --test     # ... plus the test dependencies (pytest)
#
# What it does, in order:
#   1. the system library open3d needs (libusb-1.0), with apt-get when run as root on
#      Debian/Ubuntu, otherwise it tells you the command;
#   2. a venv ($VENV, default .venv) with pip;
#   3. torch ONLY IF the venv has none: `pip install $TORCH_SPEC` (default torch==2.13.0,
#      whose CPU wheel is on this project's machines). An existing torch, e.g. a CUDA
#      build you installed yourself, is never replaced. Elsewhere, to get the CPU build
#      instead of PyPI's default CUDA build, point pip at PyTorch's CPU wheel index, e.g.
#      TORCH_SPEC="torch --index-url <pytorch cpu wheel index>";
#   4. humanrecon itself, editable, with the dependencies from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
EXTRAS=""
for arg in "$@"; do
  case "$arg" in
    --test) EXTRAS="[test]" ;;
    *) echo "usage: bash tools/setup.sh [--test]" >&2; exit 2 ;;
  esac
done

# 1. libusb-1.0 for open3d (import fails with "libusb-1.0.so.0" without it)
if ! ldconfig -p 2>/dev/null | grep -q "libusb-1.0.so.0"; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "[setup] installing libusb-1.0-0 (needed by open3d)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "[setup] open3d needs the system library libusb-1.0; install it first," >&2
    echo "        e.g. 'sudo apt-get install -y libusb-1.0-0' (Debian/Ubuntu)" >&2
    exit 1
  fi
fi

# 2. the venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

# 3. torch only when missing
if "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "[setup] keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  echo "[setup] installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "$PY" -m pip install -q $TORCH_SPEC
fi

# 4. humanrecon and its dependencies
echo "[setup] installing humanrecon$EXTRAS"
"$PY" -m pip install -q -e ".$EXTRAS"
echo "[setup] done: $("$PY" -c 'import humanrecon, torch; print("humanrecon", humanrecon.__version__, "with torch", torch.__version__)')"
