#!/usr/bin/env bash
# Quick start 2: install what is missing, build, and run every test: the default build,
# the ASan+UBSan build (ASI_EMU_SKIP_ASAN=1 skips it), then the fuzz targets with clang and
# libFuzzer: corpus replays, short bounded fuzzing runs and the planted-bug searches
# (ASI_EMU_SKIP_FUZZ=1 skips them).
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
if [ "${ASI_EMU_SKIP_FUZZ:-0}" != 1 ]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs" --target fuzz_all
  ctest --preset fuzz -j "$jobs"
fi
