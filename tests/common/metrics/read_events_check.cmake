# ctest metrics_read_events_py: the C++ writer's event files, read by the independent Python
# reader (scripts/reference/tensorboard/read_events.py). Run as
#   cmake -DWRITER=<tensorboard_sample_writer> -DSCRIPT=<read_events.py> -DWORK_DIR=<dir> -P read_events_check.cmake
# Prints "SKIPPED:" (the test's SKIP_REGULAR_EXPRESSION) when /usr/bin/python3 is missing.
set(PYTHON /usr/bin/python3)
if(NOT EXISTS ${PYTHON})
  message("SKIPPED: ${PYTHON} not found; the independent event-file reader needs it")
  return()
endif()

file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${WRITER} ${WORK_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tensorboard_sample_writer failed (${rc})")
endif()

# run(<file> <expected exit code> <text the error must contain> [args...])
function(run file want_rc want_text)
  execute_process(COMMAND ${PYTHON} ${SCRIPT} ${WORK_DIR}/${file} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${file}: exit ${rc}: ${err}")
  if(NOT rc EQUAL want_rc)
    message(FATAL_ERROR "read_events.py ${file}: exit ${rc}, expected ${want_rc}\n${out}${err}")
  endif()
  if(NOT err MATCHES "${want_text}")
    message(FATAL_ERROR "read_events.py ${file}: stderr lacks '${want_text}':\n${err}")
  endif()
endfunction()

run(good.tfevents 0 "ok: 9 scalars match" --expect ${WORK_DIR}/expected.jsonl)
run(flipped.tfevents 1 "bad data CRC at byte offset [0-9]+")
run(truncated.tfevents 1 "truncated record at byte offset [0-9]+")
# The checker itself can fail: a wrong expectation is reported as a mismatch.
file(READ ${WORK_DIR}/expected.jsonl expected)
string(REPLACE "\"loss\"" "\"LOSS\"" expected "${expected}")
file(WRITE ${WORK_DIR}/wrong.jsonl "${expected}")
run(good.tfevents 2 "mismatch" --expect ${WORK_DIR}/wrong.jsonl)
file(REMOVE_RECURSE ${WORK_DIR})
