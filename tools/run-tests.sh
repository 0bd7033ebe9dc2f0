#!/usr/bin/env bash
# Quick start 2: install what is missing, build, and run every test: the default build,
# then the ASan+UBSan build (ASI_EMU_SKIP_ASAN=1 skips the latter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"
if [ "${ASI_EMU_SKIP_ASAN:-0}" != 1 ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs"
fi
