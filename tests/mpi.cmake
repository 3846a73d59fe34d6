# SPDX-License-Identifier: Apache-2.0
# What lives here: the MPI tests, registered only when CMake found MPI (the library then has the MPI
# communicator, train/communicator_mpi.cpp). Each runs `mpirun -np N --oversubscribe` (2-3 ranks on a 2-core
# machine) with one OpenMP thread per rank; the OMPI_ALLOW_RUN_AS_ROOT* variables let them run as root (CI).
#   example_data_parallel   (every build) the example in one process
#   mpi_trainer_check_npN   the Trainer over N ranks == one process (float64, 1e-12), repeatable, rank-order sums
#   mpi_example_npN         examples/data_parallel.cpp runs over N ranks
#   mpi_train_cli           tests/mpi/train.sh: `mpirun unroll train`: equals one process, bit-identical
#                           repeats, resume N -> M, SIGINT/SIGTERM to mpirun, a rank killed with SIGKILL
#   mpi_sweep_cli           tests/mpi/sweep.sh: `mpirun unroll sweep` == the serial sweep, restart skips runs
if(TARGET example_data_parallel)  # the single-process stand-in: every build
  add_test(NAME example_data_parallel COMMAND example_data_parallel)
endif()
if(NOT UNROLL_WITH_MPI OR NOT MPIEXEC_EXECUTABLE)
  return()
endif()
# Not in sanitizer builds: LeakSanitizer reports OpenMPI's own allocations that live until exit (it would
# need a suppression list for libmpi/libopen-pal/PMIx), and these tests exercise mpirun's process
# management more than unroll's code, which the single-process tests above already cover under ASan.
if(UNROLL_SANITIZE)
  message(STATUS "MPI tests skipped in a sanitizer build (docs/distributed.md)")
  return()
endif()
set(UNROLL_MPI_TEST_ENV OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE OMPI_ALLOW_RUN_AS_ROOT=1
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 MPIEXEC=${MPIEXEC_EXECUTABLE})

add_executable(mpi_trainer_check ${CMAKE_CURRENT_SOURCE_DIR}/mpi/trainer_check.cpp)
target_link_libraries(mpi_trainer_check PRIVATE unroll)
foreach(np 2 3)
  add_test(NAME mpi_trainer_check_np${np}
    COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} --oversubscribe $<TARGET_FILE:mpi_trainer_check>)
  set_tests_properties(mpi_trainer_check_np${np} PROPERTIES LABELS mpi TIMEOUT 120 ENVIRONMENT "${UNROLL_MPI_TEST_ENV}")
  if(TARGET example_data_parallel)
    add_test(NAME mpi_example_np${np}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} --oversubscribe $<TARGET_FILE:example_data_parallel>)
    set_tests_properties(mpi_example_np${np} PROPERTIES LABELS mpi TIMEOUT 120 ENVIRONMENT "${UNROLL_MPI_TEST_ENV}")
  endif()
endforeach()

if(TARGET unroll_cmd)
  foreach(name train sweep)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/mpi/${name}.sh)
      add_test(NAME mpi_${name}_cli
        COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/${name}.sh $<TARGET_FILE:unroll_cmd> ${PROJECT_BINARY_DIR}/e2e/mpi_${name}
                ${PROJECT_SOURCE_DIR})
      set_tests_properties(mpi_${name}_cli PROPERTIES LABELS "mpi;e2e" TIMEOUT 600 ENVIRONMENT "${UNROLL_MPI_TEST_ENV}")
    endif()
  endforeach()
endif()
