# The outputs of `gramrl data convert` train and evaluate with the existing commands (issue 14,
# "Done when"): the hand-made samples of tests/data/convert converted, then GRAM stage 1 on the
# unlabeled pairs, stage 2 on the labelled pairs from that checkpoint, `gram eval --benchmark
# rewardbench` on the converted RewardBench rows, SFT on the demonstrations and `generate` on the
# AlpacaEval prompts, each on the built-in toy model for two steps. Each step must exit 0.
#   cmake -DGRAMRL=<gramrl> -DSRC=<source dir> -DOUT=<scratch dir> -P converted_data_runs.cmake
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
set(D ${SRC}/tests/data/convert)
set(SHORT learner.total_steps=2 learner.global_batch_size=2 learner.micro_batch_size=2 experiment.output_dir=${OUT})

function(step)
  string(REPLACE ";" " " shown "${ARGN}")
  message("+ ${shown}")
  execute_process(COMMAND ${GRAMRL} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${shown}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

step(data convert --from unified-feedback ${D}/unified-feedback.jsonl ${OUT}/uf-pairs.jsonl
     --unlabeled-out ${OUT}/uf-unlabeled.jsonl --sft-out ${OUT}/uf-sft.jsonl)
step(data convert --from rewardbench ${D}/rewardbench.jsonl ${OUT}/rewardbench.jsonl)
step(data convert --from alpacaeval ${D}/alpacaeval.json ${OUT}/alpaca-prompts.jsonl)
step(gram pretrain ${SRC}/configs/gram-toy.yaml ${SHORT} experiment.name=stage1
     learner.data.train=${OUT}/uf-unlabeled.jsonl)
step(gram finetune ${SRC}/configs/gram-toy.yaml ${SHORT} experiment.name=stage2 learner.algorithm=gram_finetune
     reward.model=${OUT}/stage1/checkpoints/step-00000002/model learner.data.train=${OUT}/uf-pairs.jsonl)
step(gram eval ${OUT}/rewardbench.jsonl --model ${OUT}/stage2/checkpoints/step-00000002/model --kind gram
     --benchmark rewardbench)
if(NOT last_out MATCHES "\\| Reasoning \\|" OR NOT last_out MATCHES "\\*\\*Score\\*\\*")
  message(FATAL_ERROR "gram eval --benchmark rewardbench printed no section and final scores:\n${last_out}")
endif()
step(train sft ${SRC}/configs/sft-toy.yaml ${SHORT} experiment.name=sft learner.data.train=${OUT}/uf-sft.jsonl)
step(generate -m ${OUT}/sft/checkpoints/step-00000002/model --chat-template plain --prompts ${OUT}/alpaca-prompts.jsonl
     --max-new-tokens 4 --jsonl)
if(NOT last_out MATCHES "\"tokens\"")
  message(FATAL_ERROR "generate printed no completions:\n${last_out}")
endif()
file(REMOVE_RECURSE ${OUT})
