# Runs `gramrl generate` on builtin:tiny and checks the JSONL it prints.
execute_process(COMMAND ${GRAMRL} generate -m builtin:tiny -n 2 --max-new-tokens 5 --temperature 0.8 --seed 7
                        --jsonl "first prompt" "second"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gramrl generate failed (${rc}):\n${err}")
endif()
string(REGEX MATCHALL "\"prompt_index\":[01][^\n]*\"sample_index\":[01][^\n]*\n" lines "${out}")
list(LENGTH lines n)
if(NOT n EQUAL 4)
  message(FATAL_ERROR "expected 4 completions, got ${n}:\n${out}")
endif()
foreach(line IN LISTS lines)
  string(REGEX MATCH "\"tokens\":\\[[0-9]+,[0-9]+,[0-9]+,[0-9]+,[0-9]+\\]" five "${line}")
  string(REGEX MATCH "\"finish_reason\":\"stop\"" stopped "${line}")
  if(NOT five AND NOT stopped)
    message(FATAL_ERROR "a completion has neither 5 tokens nor a stop:\n${line}")
  endif()
endforeach()
