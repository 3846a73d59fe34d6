# SPDX-License-Identifier: Apache-2.0
# dnnl_bench: standalone oneDNN baseline benchmark (matmul GFLOP/s and fused
# RNN primitives forward+backward).  include() this from the top-level
# CMakeLists.txt; needs find_package(dnnl) to have been done (or done here).
# Built against oneDNN only (not the unroll library), so it measures the raw
# primitives; dnnl_rnn_cells.cpp holds the per-cell primitive setup.
find_package(dnnl CONFIG REQUIRED)
find_package(OpenMP REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
add_executable(dnnl_bench ${CMAKE_CURRENT_LIST_DIR}/dnnl_bench.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dnnl_rnn_cells.cpp)
target_compile_features(dnnl_bench PRIVATE cxx_std_17)
target_link_libraries(dnnl_bench PRIVATE DNNL::dnnl OpenMP::OpenMP_CXX nlohmann_json::nlohmann_json)
