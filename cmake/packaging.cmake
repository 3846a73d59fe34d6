# SPDX-License-Identifier: Apache-2.0
# What lives here: the Debian package. `cmake --build build --target package` (CPack's DEB generator)
# makes unroll_<version>_amd64.deb from the install rules: the `unroll` command, libunroll (shared, SONAME
# libunroll.so.MAJOR.MINOR), headers, the CMake package, man page, bash completion, docs and examples.
# Its Depends are the runtime libraries dpkg-shlibdeps finds the binaries linked against; building against
# the headers also needs fmt's and nlohmann-json's development packages (Recommends).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME unroll)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The unroll authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "recurrent neural networks on a tape-based autodiff engine")
set(CPACK_PACKAGE_DESCRIPTION "unroll is a C++20 framework and command for recurrent neural networks
(Elman RNN, LSTM, GRU and custom cells) on a tape-based reverse-mode autodiff engine with oneDNN
kernels, gradient checking and HDF5 checkpoints. This package holds the command, the library, its
headers and CMake package, the man page, the documentation and examples.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # unroll_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libunroll.so.X.Y is in this package: dpkg-shlibdeps finds it in the staging tree, not the system.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_INSTALL_LIBDIR})
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake, g++, libfmt-dev, nlohmann-json3-dev")
set(CPACK_STRIP_FILES OFF)
include(CPack)
