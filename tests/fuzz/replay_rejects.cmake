# The replay test must be able to fail: imgpack_fuzz_replay --must-open passes on an intact copy
# of a corpus pack, and fails, naming the file and the reason, on copies that Pack::open rejects.
#   cmake -DREPLAY=imgpack_fuzz_replay -DPACK=a corpus pack -DWORK=scratch dir -P replay_rejects.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/intact ${WORK}/truncated ${WORK}/flipped)
file(COPY ${PACK} DESTINATION ${WORK}/intact)
get_filename_component(name ${PACK} NAME)
file(SIZE ${PACK} size)

function(replay dir expect_rc expect_output)
  execute_process(COMMAND ${REPLAY} --must-open --mutations 0 ${dir}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL ${expect_rc} OR NOT "${out}${err}" MATCHES "${expect_output}")
    message(FATAL_ERROR "replay of ${dir}: exit ${rc} (expected ${expect_rc}), output:\n${out}${err}\n"
                        "expected it to match: ${expect_output}")
  endif()
  message(STATUS "replay of ${dir}: exit ${rc}, as expected")
endfunction()

replay(${WORK}/intact 0 "1 opened and read")

# The last 32 bytes cut off, as by an interrupted copy.
math(EXPR cut "${size} - 32")
execute_process(COMMAND head -c ${cut} ${PACK} OUTPUT_FILE ${WORK}/truncated/${name} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not make a truncated copy of ${PACK}")
endif()
replay(${WORK}/truncated 1 "truncated/${name}: rejected at open: .*truncated or appended to")

# One byte of the header's magic zeroed.
file(COPY ${PACK} DESTINATION ${WORK}/flipped)
execute_process(COMMAND dd if=/dev/zero of=${WORK}/flipped/${name} bs=1 count=1 conv=notrunc status=none
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not damage a copy of ${PACK}")
endif()
replay(${WORK}/flipped 1 "flipped/${name}: rejected at open: .*bad magic")
