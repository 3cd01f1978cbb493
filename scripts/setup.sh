#!/usr/bin/env bash
# Creates .venv (once) and installs ugaar-kit with its test tools and the example plugin, editable.
# Debian/Ubuntu with Python >= 3.10; no GPU needed. Re-running is cheap: pip skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -e '.[test]' -e examples/ugaar-kit-example-encoder
