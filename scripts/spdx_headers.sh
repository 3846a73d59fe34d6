#!/usr/bin/env bash
# What lives here: adds the license line "SPDX-License-Identifier: Apache-2.0" as the first comment line
# of every project source file that lacks it (after a #! line; // in C++, # elsewhere). Idempotent. The
# files are the ones the CTest check spdx_headers_present selects (tests/cmake/check_spdx_headers.cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
line="SPDX-License-Identifier: Apache-2.0"
mapfile -t files < <(cmake -DSOURCE_DIR="$PWD" -DLIST_MISSING=ON -P tests/cmake/check_spdx_headers.cmake)
for f in "${files[@]}"; do
  case "$f" in
    *.cpp | *.h | *.h.in) comment="// $line" ;;
    *) comment="# $line" ;;
  esac
  tmp="$f.spdx.tmp"
  if head -n 1 "$f" | grep -q '^#!'; then
    { head -n 1 "$f"; echo "$comment"; tail -n +2 "$f"; } >"$tmp"
  else
    { echo "$comment"; cat "$f"; } >"$tmp"
  fi
  chmod --reference="$f" "$tmp"
  mv "$tmp" "$f"
done
echo "spdx_headers: ${#files[@]} files updated"
