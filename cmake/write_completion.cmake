# SPDX-License-Identifier: Apache-2.0
# Writes the output of `COMMAND --bash-completion` to OUTPUT (cmake/cli_docs.cmake).
# Usage: cmake -DCOMMAND=path/to/unroll -DOUTPUT=file -P write_completion.cmake
get_filename_component(folder ${OUTPUT} DIRECTORY)
file(MAKE_DIRECTORY ${folder})
execute_process(COMMAND ${COMMAND} --bash-completion OUTPUT_FILE ${OUTPUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${COMMAND} --bash-completion failed: ${rc}")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
