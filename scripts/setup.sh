#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the one idempotent setup step. Installs the Debian 12 packages unroll needs
# (build, tests, interop tools, plots, API docs, man page, the .deb, OpenMPI for docs/distributed.md) when any is missing. Used by the README commands and .ci/run.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libdnnl-dev ocl-icd-opencl-dev libfmt-dev doctest-dev libhdf5-dev
  libcli11-dev nlohmann-json3-dev gnuplot-nox graphviz
  python3-torch python3-h5py python3-numpy libopenblas0-openmp
  clang libclang-rt-14-dev
  doxygen help2man dpkg-dev file bash-completion
  libopenmpi-dev openmpi-bin
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
