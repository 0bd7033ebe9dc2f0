# The emulator fuzz target finds its guest image beside its own binary when ASI_FUZZ_IMAGE is
# not set (how ClusterFuzzLite ships it: .clusterfuzzlite/build.sh). cmake -P this file with
#   FUZZER   the emulator target (libFuzzer binary or its replay driver)
#   IMAGE    the planted guest, copied beside a copy of FUZZER as asi-guest.elf
#   INPUT    an input that reaches the planted bug
#   WORK     scratch directory, emptied first
# Passes when the copy reports the planted bug's R4: only the planted image has it, so the
# binary must have loaded the image beside it rather than the one its build produced.
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
get_filename_component(name "${FUZZER}" NAME)
file(COPY_FILE "${FUZZER}" "${WORK}/${name}")
file(COPY_FILE "${IMAGE}" "${WORK}/asi-guest.elf")
set(ENV{ASI_FUZZ_IMAGE} "")
execute_process(COMMAND "${WORK}/${name}" "${INPUT}" WORKING_DIRECTORY "${WORK}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "finding: oracle violation R4")
  message("${err}")
  message(FATAL_ERROR "the copy beside the planted image did not report R4 (exit ${rc})")
endif()
message(STATUS "the image beside the binary was used: R4")
