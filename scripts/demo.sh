#!/usr/bin/env bash
# The main job on a fresh machine: set up (scripts/setup.sh), then `ugaar-kit demo`: build the
# redistributable demo dataset, train UGAAR and deep CCA, evaluate, embed and search.
# Extra arguments go to `ugaar-kit demo` (e.g. --out DIR, --epochs N). Re-running resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ugaar-kit demo "$@"
