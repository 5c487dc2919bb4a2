# The compat_corpus check must be able to fail: on copies of the corpus it fails when a listing
# says something the reader does not read, and when a released version has no pack.
#   cmake -DCHECK=imgpack_compat_listing -DCORPUS=tests/compat -DWORK=scratch dir -P check_fails.cmake
function(check dir expect_rc expect_output)
  execute_process(COMMAND ${CHECK} --check ${dir} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL ${expect_rc} OR NOT "${out}${err}" MATCHES "${expect_output}")
    message(FATAL_ERROR "check of ${dir}: exit ${rc} (expected ${expect_rc}), output:\n${out}${err}\n"
                        "expected it to match: ${expect_output}")
  endif()
  message(STATUS "check of ${dir}: exit ${rc}, as expected")
endfunction()

file(REMOVE_RECURSE ${WORK})
file(GLOB corpus ${CORPUS}/*.imgpack ${CORPUS}/*.txt)
file(COPY ${corpus} DESTINATION ${WORK}/intact)
check(${WORK}/intact 0 "0 failure")

# A listing that says one record's label is another than the pack holds.
file(COPY ${corpus} DESTINATION ${WORK}/edited)
file(READ ${WORK}/edited/1.0.txt listing)
string(REGEX REPLACE "label 0 wnid" "label 1 wnid" edited "${listing}")
if(edited STREQUAL listing)
  message(FATAL_ERROR "1.0.txt has no 'label 0 wnid' to edit")
endif()
file(WRITE ${WORK}/edited/1.0.txt "${edited}")
check(${WORK}/edited 1 "1.0.imgpack: read differently from .*1.0.txt")

# No pack of format 1.0.
file(COPY ${corpus} DESTINATION ${WORK}/missing)
file(REMOVE ${WORK}/missing/1.0.imgpack ${WORK}/missing/1.0.txt)
check(${WORK}/missing 1 "no pack of format 1.0")
