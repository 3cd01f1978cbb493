#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), then lint, format check, type check, the import
# layers (lint-imports) and pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers of pyproject.toml [tool.importlinter]
.venv/bin/python -m pytest "$@"
