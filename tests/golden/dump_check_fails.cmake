# golden_dump_matches_spec must be able to fail: the check passes on a copy of FORMAT.md, and
# fails on one whose golden dump says a value the file does not hold, and on a damaged pack.
#   cmake -DDUMP=imgpack_golden_dump -DPACK=golden.imgpack -DSPEC=FORMAT.md -DWORK=dir -P dump_check_fails.cmake
function(run expect_rc expect_output)
  execute_process(COMMAND ${DUMP} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL ${expect_rc} OR NOT "${out}${err}" MATCHES "${expect_output}")
    message(FATAL_ERROR "${DUMP} ${ARGN}: exit ${rc} (expected ${expect_rc}), output:\n${out}${err}\n"
                        "expected it to match: ${expect_output}")
  endif()
  string(REPLACE ";" " " command "${ARGN}")
  message(STATUS "${command}: exit ${rc}, as expected")
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(READ ${SPEC} spec)
file(WRITE ${WORK}/intact.md "${spec}")
run(0 "matches" ${PACK} --check ${WORK}/intact.md)

# The spec's dump claims another file size.
string(REPLACE "file_size: 5440" "file_size: 5441" edited "${spec}")
if(edited STREQUAL spec)
  message(FATAL_ERROR "${SPEC}'s golden dump has no 'file_size: 5440' to edit")
endif()
file(WRITE ${WORK}/edited.md "${edited}")
run(1 "differs from .* at dump line" ${PACK} --check ${WORK}/edited.md)

# A copy of the pack with the magic's first byte zeroed: the dump tool refuses it.
file(COPY ${PACK} DESTINATION ${WORK})
get_filename_component(name ${PACK} NAME)
execute_process(COMMAND dd if=/dev/zero of=${WORK}/${name} bs=1 count=1 conv=notrunc status=none)
run(1 "bad magic" ${WORK}/${name} --check ${WORK}/intact.md)
