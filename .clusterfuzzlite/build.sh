#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script (runs in the Dockerfile's image, with $CC, $CXX,
# $CFLAGS, $CXXFLAGS, $LIB_FUZZING_ENGINE, $SANITIZER, $SRC, $WORK and $OUT set by the
# infrastructure). Builds the host-native fuzz targets with the infrastructure's compiler
# and flags (fuzz/CMakeLists.txt, "engine" mode) and puts into $OUT, per target: the binary,
# <target>.options, <target>.dict when there is one, and <target>_seed_corpus.zip made of
# fuzz/corpus/<target>/ and tests/regressions/<target>/.
#
# Not shipped: page_alloc_fuzzer_planted (a test of the fuzzer itself, it crashes on purpose),
# and emulator_fuzzer: it needs the guest kernel image, built with Debian 12's clang 14 and
# lld (fuzz/README.md, "At scale"); run it on one machine with -fork instead.

ROOT="$SRC/asi-emu"
BUILD="$WORK/build"
TARGETS="elf_loader_fuzzer trace_reader_fuzzer page_alloc_fuzzer"

# CMAKE_BUILD_TYPE=None: no build-type flags on top of $CFLAGS/$CXXFLAGS (the top-level
# CMakeLists.txt would otherwise default to RelWithDebInfo). No guest kernel, no tests.
cmake -S "$ROOT" -B "$BUILD" -G Ninja \
    -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_BUILD_TYPE=None \
    -DASI_EMU_FUZZ=ON \
    -DASI_EMU_BUILD_GUEST=OFF \
    -DBUILD_TESTING=OFF \
    -DASI_FUZZ_ENGINE="$LIB_FUZZING_ENGINE"
cmake --build "$BUILD" --target $TARGETS

for t in $TARGETS; do
    cp "$BUILD/fuzz/$t" "$OUT/"
    cp "$ROOT/fuzz/$t.options" "$OUT/"
    if [ -f "$ROOT/fuzz/$t.dict" ]; then
        cp "$ROOT/fuzz/$t.dict" "$OUT/"
    fi
    seeds=("$ROOT/fuzz/corpus/$t")
    if [ -d "$ROOT/tests/regressions/$t" ]; then
        seeds+=("$ROOT/tests/regressions/$t")
    fi
    # -j: flat archive; the regression inputs are named after their content hash, so they do
    # not collide with the seeds. Hidden files (.gitkeep) are left out.
    find "${seeds[@]}" -maxdepth 1 -type f ! -name '.*' -print0 | xargs -0 zip -q -j "$OUT/${t}_seed_corpus.zip"
done
