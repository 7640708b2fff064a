#!/usr/bin/env bash
# Build the standalone bundle (build.spec) and smoke-test it; see scripts/build_bundle.py.
#   scripts/build_bundle.sh [--skip-build] [--lite] [--keep] ...
set -euo pipefail
exec python3 "$(dirname "$0")/build_bundle.py" "$@"
