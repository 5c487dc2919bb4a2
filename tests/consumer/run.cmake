# Builds a project that reads a pack with imgpack::reader, WAY=package: against imgpack installed
# into a scratch prefix (find_package; tests/consumer), or WAY=subproject: with imgpack's source
# tree added to it (add_subdirectory; tests/consumer/subproject). Then runs it on a pack made by
# the CLI. Fails on any step's failure or a bad checksum.
set(work ${BINARY_DIR}/consumer-${WAY})
file(REMOVE_RECURSE ${work})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
if(WAY STREQUAL "package")
  run(${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${work}/prefix)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${work}/build -G Ninja -DCMAKE_PREFIX_PATH=${work}/prefix
      -DIMGPACK_VERSION=${VERSION})
elseif(WAY STREQUAL "subproject")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/subproject -B ${work}/build -G Ninja
      -DIMGPACK_SOURCE_DIR=${SOURCE_DIR})
else()
  message(FATAL_ERROR "WAY must be package or subproject, not '${WAY}'")
endif()
run(${CMAKE_COMMAND} --build ${work}/build --target read_pack)
run(${CLI} synth ${work}/data --classes 3 --per-class 4 --val 5 --test 2 --seed 11)
run(${CLI} convert --train ${work}/data/ILSVRC2012_img_train.tar --val ${work}/data/ILSVRC2012_img_val.tar
    --val-labels ${work}/data/imagenet2012_validation_labels.txt -o ${work}/p.imgpack -q)
run(${work}/build/read_pack ${work}/p.imgpack)
message("${out}")
if(NOT out MATCHES "train: 12 records" OR NOT out MATCHES "validation: 5 records" OR out MATCHES "BAD")
  message(FATAL_ERROR "unexpected consumer output:\n${out}")
endif()
