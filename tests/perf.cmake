# SPDX-License-Identifier: Apache-2.0
# What lives here: CTest registrations of the performance area (issue 6): checks of `unroll bench`
# (bench/check_bench_cli.py: sane JSON for every model, the FLOP count, same seed = same loss, the
# unknown-model message). Timings themselves are never asserted.
if(TARGET unroll_cmd)
  add_test(NAME perf_bench_cli
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/bench/check_bench_cli.py $<TARGET_FILE:unroll_cmd>)
  set_tests_properties(perf_bench_cli PROPERTIES LABELS perf TIMEOUT 120)
endif()
