#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run the bundled guest.
# Extra arguments go to `asi-emu run` (e.g. --append test=all).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default
exec build/default/emu/asi-emu run "$@"
