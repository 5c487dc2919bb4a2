# An older imgpack (a 1.1 reader: the last landed version's CLI, OLD) reads the 1.2 pack of the
# compatibility corpus: it skips the optional provenance section, verifies every checksum, and
# lists every record of every split and subset exactly as this version's CLI (NEW) does. Skipped
# (IMGPACK-SKIPPED marker) where no such binary exists: it is not part of the tree.
#   cmake -DOLD=... -DNEW=... -DPACK=... -P old_reader.cmake
if(NOT EXISTS "${OLD}")
  message("IMGPACK-SKIPPED: no older imgpack at ${OLD} (set IMGPACK_OLD_READER)")
  return()
endif()
function(run out)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${rc}): ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
run(version ${OLD} --version)
message("older reader: ${version}")
run(info ${OLD} info ${PACK})
if(NOT info MATCHES "format 1\\.2")
  message(FATAL_ERROR "the older reader does not see format 1.2 in ${PACK}:\n${info}")
endif()
run(verify ${OLD} verify ${PACK})
message("${verify}")
foreach(what "--split;train" "--split;validation" "--split;train;--subset;half" "--split;train;--subset;q")
  run(old ${OLD} ls ${PACK} ${what} --json)
  run(new ${NEW} ls ${PACK} ${what} --json)
  # Keys this CLI's ls added after the older one (each record's flags); every other byte must match.
  string(REGEX REPLACE ",\"flags\":[0-9]+,\"repaired\":(true|false)}" "}" new "${new}")
  if(NOT old STREQUAL new OR old STREQUAL "")
    message(FATAL_ERROR "ls ${what}: the older reader reads\n${old}\nthis one reads\n${new}")
  endif()
endforeach()
message("the older reader reads ${PACK} as this one does")
