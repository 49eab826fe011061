# Runs the steps of one reference check: commands separated by the argument "--next", each of
# which must exit 0. Run as
#   cmake -DPYTHON=<reference python> -DSTEPS="cmd1;arg;--next;cmd2;arg" -P run_steps.cmake
# The reference Python environment (.venv-ref, scripts/setup_reference.sh) is optional outside
# CI: without it the check prints "SKIPPED:" (the tests' SKIP_REGULAR_EXPRESSION); with CI set in
# the environment a missing environment is a failure, so CI cannot pass by skipping.
if(NOT EXISTS "${PYTHON}")
  if(DEFINED ENV{CI})
    message(FATAL_ERROR "${PYTHON} not found: CI must run scripts/setup_reference.sh first")
  endif()
  message("SKIPPED: ${PYTHON} not found; run scripts/setup_reference.sh for the Hugging Face reference checks")
  return()
endif()
set(cmd "")
list(APPEND STEPS --next)
foreach(arg IN LISTS STEPS)
  if(arg STREQUAL "--next")
    string(REPLACE ";" " " shown "${cmd}")
    message("+ ${shown}")
    execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "step failed (${rc}): ${shown}")
    endif()
    set(cmd "")
  else()
    list(APPEND cmd "${arg}")
  endif()
endforeach()
