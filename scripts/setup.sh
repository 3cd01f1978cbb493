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
# Chromium and its driver for the browser test of `ugaar-kit serve` (tests/serve/test_live.py),
# from Debian's packages where this runs as root with apt; elsewhere that test is skipped.
if ! command -v chromedriver > /dev/null && command -v apt-get > /dev/null && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q chromium chromium-driver > /dev/null 2>&1 \
    || { apt-get update -q > /dev/null 2>&1 && apt-get install -y -q chromium chromium-driver > /dev/null 2>&1; } \
    || echo "note: could not install chromium (the browser test will be skipped)"
fi
