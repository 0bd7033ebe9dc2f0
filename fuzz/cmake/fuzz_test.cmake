# Runs a libFuzzer binary for a ctest (see fuzz/CMakeLists.txt): cmake -P this file with
#   MODE       replay        run every input of DIRS once (libFuzzer's file arguments)
#              run           fuzz RUNS executions from DIRS; must not crash
#              expect_crash  fuzz at most RUNS executions from DIRS; must crash, leave a
#                            crash file, and report what EXPECT (a regex) matches; REFERENCE,
#                            if given, must then pass on that crash file; REPLAY_TRACE, if
#                            given, must be printed by `ASI_EMU replay <crash file>.trace`
#   FUZZER     the fuzz target
#   DIRS       "|"-separated input directories; missing ones are skipped
#   OPTIONS    "|"-separated libFuzzer flags (from <target>.options)
#   RUNS       execution budget (run, expect_crash)
#   WORK       scratch directory, emptied first: new corpus units and artifacts go here, so
#              the source tree is never written
#   EXPECT     (expect_crash) regex the fuzzer's report of the finding must match
#   REFERENCE  (expect_crash) the correct target
#   ASI_EMU, REPLAY_TRACE  (expect_crash) asi-emu, and the regex its replay of the trace
#              the target saved beside the crash file must print (exit 2: a violation)
# Fuzzing uses -seed=1, so a run is repeatable on one machine and one build.
cmake_minimum_required(VERSION 3.25)

string(REPLACE "|" ";" dirs "${DIRS}")
string(REPLACE "|" ";" options "${OPTIONS}")
set(existing)
foreach(d IN LISTS dirs)
  if(IS_DIRECTORY "${d}")
    list(APPEND existing "${d}")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")

function(tail text n)
  string(REPLACE "\n" ";" lines "${text}")
  list(LENGTH lines len)
  if(len GREATER n)
    math(EXPR start "${len} - ${n}")
    list(SUBLIST lines ${start} ${n} lines)
  endif()
  list(JOIN lines "\n" out)
  message("${out}")
endfunction()

if(MODE STREQUAL "replay")
  set(files)
  foreach(d IN LISTS existing)
    file(GLOB found LIST_DIRECTORIES false "${d}/*")
    list(FILTER found EXCLUDE REGEX "/\\.[^/]*$")  # hidden files (.gitkeep)
    list(SORT found)
    list(APPEND files ${found})
  endforeach()
  list(LENGTH files count)
  if(count EQUAL 0)
    message(FATAL_ERROR "no inputs in ${DIRS}")
  endif()
  execute_process(COMMAND "${FUZZER}" ${files} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    tail("${err}" 60)
    message(FATAL_ERROR "replay of ${count} inputs failed (exit ${rc})")
  endif()
  message(STATUS "replayed ${count} inputs")
  return()
endif()

execute_process(
  COMMAND "${FUZZER}" -runs=${RUNS} -seed=1 -print_final_stats=1 -artifact_prefix=${WORK}/
          ${options} "${WORK}/corpus" ${existing}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(executions "?")
if(err MATCHES "stat::number_of_executed_units: ([0-9]+)")
  set(executions ${CMAKE_MATCH_1})
endif()
file(GLOB crashes "${WORK}/crash-*" "${WORK}/leak-*" "${WORK}/timeout-*" "${WORK}/oom-*")
list(FILTER crashes EXCLUDE REGEX "\\.trace$")  # emulator_fuzzer's traces beside its crash files

if(MODE STREQUAL "run")
  if(NOT rc EQUAL 0 OR crashes)
    tail("${err}" 60)
    message(FATAL_ERROR "fuzzing failed (exit ${rc}) after ${executions} executions: ${crashes}")
  endif()
  message(STATUS "${executions} executions, no finding")
elseif(MODE STREQUAL "expect_crash")
  if(rc EQUAL 0 OR NOT crashes)
    tail("${err}" 30)
    message(FATAL_ERROR "the planted bug was not found in ${executions} executions (exit ${rc})")
  endif()
  if(NOT err MATCHES "${EXPECT}")
    tail("${err}" 60)
    message(FATAL_ERROR "the fuzzer crashed, but its report does not match '${EXPECT}'")
  endif()
  list(GET crashes 0 crash)
  message(STATUS "planted bug found after ${executions} executions: ${crash}")
  if(REFERENCE)
    execute_process(COMMAND "${REFERENCE}" "${crash}" RESULT_VARIABLE ref_rc OUTPUT_QUIET ERROR_VARIABLE ref_err)
    if(NOT ref_rc EQUAL 0)
      tail("${ref_err}" 40)
      message(FATAL_ERROR "the correct target fails on the crash input too: not the planted bug")
    endif()
    message(STATUS "the correct target passes on it")
  endif()
  if(REPLAY_TRACE)
    if(NOT EXISTS "${crash}.trace")
      message(FATAL_ERROR "no trace beside the crash file (${crash}.trace)")
    endif()
    execute_process(COMMAND "${ASI_EMU}" replay "${crash}.trace" RESULT_VARIABLE replay_rc
                    OUTPUT_VARIABLE replay_out ERROR_VARIABLE replay_err)
    if(NOT replay_rc EQUAL 2 OR NOT "${replay_out}${replay_err}" MATCHES "${REPLAY_TRACE}")
      tail("${replay_out}${replay_err}" 40)
      message(FATAL_ERROR "replay of ${crash}.trace: exit ${replay_rc}, expected 2 and '${REPLAY_TRACE}'")
    endif()
    message(STATUS "its trace replays to '${REPLAY_TRACE}'")
  endif()
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
