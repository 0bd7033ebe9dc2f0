# cmake -DCXX=... -DNM=... -DFLAGS=a|b|c -DINCLUDE=... -DSOURCE=... -DOUTPUT=... -P this
# Compiles SOURCE freestanding and fails unless the object's only undefined symbols are
# the C string functions the guest kernel implements (memcpy, memmove, memset, memcmp).
string(REPLACE "|" ";" FLAGS "${FLAGS}")
execute_process(
  COMMAND ${CXX} ${FLAGS} -I${INCLUDE} -c ${SOURCE} -o ${OUTPUT}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "freestanding compile failed")
endif()
if(NM)
  execute_process(COMMAND ${NM} -u ${OUTPUT} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${OUTPUT}")
  endif()
  string(REGEX MATCHALL "U [^\n]+" symbols "${undefined}")
  foreach(sym IN LISTS symbols)
    string(REGEX REPLACE "^U " "" name "${sym}")
    if(NOT name MATCHES "^(memcpy|memmove|memset|memcmp)$")
      message(FATAL_ERROR "freestanding object needs ${name}, which the guest does not provide")
    endif()
  endforeach()
endif()
