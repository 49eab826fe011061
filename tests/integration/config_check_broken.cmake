# Runs `gramrl config check` on a broken config and checks its exit code and every error line.
execute_process(COMMAND ${GRAMRL} config check ${CONFIG} learner.ppo.epochs=0
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "expected exit code 2, got ${rc}\n${err}")
endif()
set(expected
  "error: learner.lr: duplicate key (first defined at ${CONFIG}:6:3) (${CONFIG}:7:3)"
  "error: reward.backend: expected one of gram, bradley_terry, likelihood, rule, composite, got 'magic' (${CONFIG}:9:12)"
  "error: reward.debias: expected true or false, got yes (${CONFIG}:10:11)"
  "error: learner.ppo.clip: expected a number in (0, 1), got -2 (${CONFIG}:4:11)"
  "error: learner.ppo.epochs: expected an integer in [1, 100], got 0 (command line: learner.ppo.epochs=0)"
  "error: learner.ppo.clp: unknown key (did you mean learner.ppo.clip?) (${CONFIG}:5:5)"
  "${CONFIG}: 6 errors")
foreach(line IN LISTS expected)
  string(FIND "${err}" "${line}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "missing line:\n  ${line}\nin:\n${err}")
  endif()
endforeach()
string(REGEX MATCHALL "error: " lines "${err}")
list(LENGTH lines n)
if(NOT n EQUAL 6)
  message(FATAL_ERROR "expected 6 error lines, got ${n}:\n${err}")
endif()
if(NOT out STREQUAL "")
  message(FATAL_ERROR "a broken config must print no resolved config, got:\n${out}")
endif()
