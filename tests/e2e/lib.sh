# SPDX-License-Identifier: Apache-2.0
# What lives here: helpers sourced by the end-to-end scripts: argument handling, expectations on exit
# codes and messages, and a parameter comparison of two checkpoints (h5py, bytes of every /params dataset).
set -euo pipefail
UNROLL="$1"
WORK="$2"
SRC="$3"
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
export UNROLL_DATA_DIR="$SRC/data"
# Tiny, fast settings shared by the scripts.
TINY=(--length 2000 --hidden 8 --history 8 --batch 32 --no-plot --quiet)

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit CODE PATTERN -- command...: runs the command, checks its exit code, that stderr is exactly
# one line, and that it contains PATTERN (a fixed string).
expect_exit() {
  local code="$1" pattern="$2"
  shift 3
  set +e
  "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
  local rc=$?
  set -e
  [[ $rc -eq $code ]] || fail "expected exit $code, got $rc from: $* (stderr: $(cat "$WORK/err.txt"))"
  local lines
  lines=$(wc -l <"$WORK/err.txt")
  [[ $lines -eq 1 ]] || fail "expected one line on stderr, got $lines from: $*: $(cat "$WORK/err.txt")"
  grep -qF -- "$pattern" "$WORK/err.txt" || fail "stderr of '$*' lacks '$pattern': $(cat "$WORK/err.txt")"
  echo "ok (exit $code): $*"
}

# same_params A.h5 B.h5: every /params dataset has the same dtype, shape and bytes.
same_params() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a["params"].visit(lambda n: names.append(n) if isinstance(a["params"][n], h5py.Dataset) else None)
assert names, "no parameters in " + sys.argv[1]
for n in names:
    x, y = a["params"][n][()], b["params"][n][()]
    if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
        sys.exit("parameter %s differs between %s and %s" % (n, sys.argv[1], sys.argv[2]))
print("identical parameters:", len(names), "tensors")
PY
}
