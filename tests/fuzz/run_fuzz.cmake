# Run one fuzz target briefly on a fresh copy of its seed corpus
# (cmake -DFUZZER=... -DSEEDS=... -DDICT=... -DWORK=... -DSECONDS=... -P run_fuzz.cmake).
#
# WORK/corpus is replaced by a copy of SEEDS each time, so libFuzzer's new
# inputs stay in the build directory; crashes go to WORK/artifacts/.
foreach(var FUZZER SEEDS DICT WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzz.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK}/corpus)
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(COPY ${SEEDS}/ DESTINATION ${WORK}/corpus)

execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
          -dict=${DICT} -artifact_prefix=${WORK}/artifacts/ -print_final_stats=1
          ${WORK}/corpus
  WORKING_DIRECTORY ${WORK}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit status ${rc}); the input is in ${WORK}/artifacts/")
endif()
