# SPDX-License-Identifier: Apache-2.0
# What lives here: CTest registrations of the models area beyond the doctest cases: the custom-cell
# example runs end to end (gradcheck, training, checkpoint save/load) and must exit 0.
if(TARGET example_custom_cell)
  add_test(NAME example_custom_cell
    COMMAND example_custom_cell ${PROJECT_BINARY_DIR}/example_custom_cell.h5)
endif()
if(TARGET example_readme_cell)
  add_test(NAME example_readme_cell COMMAND example_readme_cell)
endif()
