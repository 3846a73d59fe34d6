#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the built unroll into a scratch root, then configures, builds and runs against it alone (with
# find_package(unroll); no include path into the source or build tree) tests/consumer and the installed
# examples (share/doc/unroll/examples: the custom cell of examples/custom_cell.cpp and the README's).
#   install_consumer.sh BUILD_DIR SOURCE_DIR                 cmake --install into a temporary prefix
#   install_consumer.sh --deb VERSION BUILD_DIR SOURCE_DIR   CPack's unroll_VERSION_amd64.deb unpacked with
#       dpkg-deb -x; also checks the package's contents and Depends and runs its `unroll --version`.
set -euo pipefail
deb_version=""
if [ "$1" = "--deb" ]; then
  deb_version=$2
  shift 2
fi
build_dir=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "install_consumer: $*" >&2; exit 1; }

if [ -z "$deb_version" ]; then
  cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
  prefix=$work/prefix
else
  (cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/package" >/dev/null) ||
    fail "cpack failed"
  deb=$work/package/unroll_${deb_version}_amd64.deb
  [ -f "$deb" ] || fail "no $(basename "$deb"); cpack made: $(ls "$work/package")"
  depends=$(dpkg-deb -f "$deb" Depends)
  for lib in libdnnl libhdf5 libgomp libfmt; do
    [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
  done
  dpkg-deb -x "$deb" "$work/root"
  prefix=$work/root/usr
  libdir=$(dirname "$(find "$prefix/lib" -name 'libunroll.so.*.*.*' | head -n 1)")
  for f in bin/unroll include/unroll/unroll.h include/unroll/graph/version.h share/man/man1/unroll.1.gz \
           share/bash-completion/completions/unroll share/doc/unroll/README.md share/doc/unroll/CHANGELOG.md \
           share/doc/unroll/LICENSE share/doc/unroll/NOTICE share/doc/unroll/docs/cli.md \
           share/doc/unroll/examples/custom_cell.cpp share/unroll/nottem.csv share/unroll/NOTICE.md share/unroll/cells/lstm.cell; do
    [ -e "$prefix/$f" ] || fail "the package lacks /usr/$f"
  done
  soname=${deb_version%.*}
  [ -e "$libdir/libunroll.so.$soname" ] || fail "the package lacks libunroll.so.$soname"
  [ -e "$libdir/cmake/unroll/unrollConfig.cmake" ] || fail "the package lacks the CMake package"
  # Not `objdump | grep -q`: grep -q stops reading at the match, objdump dies of SIGPIPE and pipefail fails.
  grep -q "SONAME *libunroll.so.$soname\$" <<<"$(objdump -p "$libdir/libunroll.so.$soname")" ||
    fail "libunroll's SONAME is not libunroll.so.$soname"
  version=$(env -u LD_LIBRARY_PATH "$prefix/bin/unroll" --version)
  [ "$version" = "unroll $deb_version" ] || fail "the package's unroll --version says '$version'"
fi

# Configures, builds and runs one project against $prefix; fails if a compile line reaches into the
# source or build tree.
build_against() {  # name source_folder
  cmake -S "$2" -B "$work/$1" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
  if grep -E -- "(-I|-isystem) *($source_dir|$build_dir)" "$work/$1/compile_commands.json"; then
    fail "$1 compiles with an include path into the source or build tree"
  fi
  cmake --build "$work/$1" -j2 >/dev/null
}
build_against consumer "$source_dir/tests/consumer"
"$work/consumer/consumer"
build_against examples "$prefix/share/doc/unroll/examples"
"$work/examples/example_readme_cell" >/dev/null
"$work/examples/example_custom_cell" "$work/custom_cell.h5" >/dev/null
echo "install_consumer: consumer and examples built and ran against $(basename "$prefix")"
