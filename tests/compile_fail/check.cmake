# cmake -DCXX=... -DSOURCE=... -DINCLUDES="dir|dir" -DTRAP=name -DEXPECT=regex -P check.cmake
# Compiles SOURCE without a trap (the control: must compile), then with -DTRAP_${TRAP}: must fail,
# with a diagnostic matching EXPECT (so that it fails for the reason the test is about).
string(REPLACE "|" ";" include_dirs "${INCLUDES}")
set(flags -std=c++20 -fsyntax-only)
foreach(dir ${include_dirs})
  list(APPEND flags "-I${dir}")
endforeach()

execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the control does not compile, so the trap's failure would prove nothing:\n${out}${err}")
endif()

execute_process(COMMAND ${CXX} ${flags} -DTRAP_${TRAP} ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "trap '${TRAP}' compiles: the reader's API lets it through again")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "trap '${TRAP}' fails to compile, but not with a diagnostic matching '${EXPECT}':\n${out}${err}")
endif()
message(STATUS "trap '${TRAP}' does not compile, as expected")
