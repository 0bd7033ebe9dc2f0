#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script (runs in the Dockerfile's image, with $CC, $CXX,
# $CFLAGS, $CXXFLAGS, $LIB_FUZZING_ENGINE, $SANITIZER, $SRC, $WORK and $OUT set by the
# infrastructure). Builds the host-native fuzz targets with the infrastructure's compiler
# and flags (fuzz/CMakeLists.txt, "engine" mode) and puts into $OUT, per target: the binary,
# <target>.options, <target>.dict when there is one, and <target>_seed_corpus.zip made of
# fuzz/corpus/<target>/ and tests/regressions/<target>/.
#
# emulator_fuzzer also gets the guest kernel image, asi-guest.elf, beside it in $OUT (where the
# target looks first): built apart, with the toolchain it is tested with (clang 14 and lld 14,
# installed by the Dockerfile) and none of the infrastructure's flags, since a freestanding
# kernel cannot take a sanitizer runtime.
#
# Not shipped: page_alloc_fuzzer_planted (a test of the fuzzer itself, it crashes on purpose).

ROOT="$SRC/asi-emu"
BUILD="$WORK/build"
TARGETS="elf_loader_fuzzer trace_reader_fuzzer page_alloc_fuzzer emulator_fuzzer"

env -u CC -u CXX -u CFLAGS -u CXXFLAGS -u LDFLAGS \
    cmake -S "$ROOT/guest_kernel" -B "$WORK/guest" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/guest_kernel/cmake/x86_64-elf-clang.cmake" \
    -DCMAKE_BUILD_TYPE=Release
env -u CC -u CXX -u CFLAGS -u CXXFLAGS -u LDFLAGS cmake --build "$WORK/guest" --target asi-guest
cp "$WORK/guest/asi-guest.elf" "$OUT/"

# CMAKE_BUILD_TYPE=None: no build-type flags on top of $CFLAGS/$CXXFLAGS (the top-level
# CMakeLists.txt would otherwise default to RelWithDebInfo). No tests; the guest is above.
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
