#!/usr/bin/env bash
# The main job on a fresh machine: set up (scripts/setup.sh), then run the demo.
# Until the demo command lands this shows what the toolkit has installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ugaar-kit --version
.venv/bin/ugaar-kit plugins
