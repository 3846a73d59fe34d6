#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of `mpirun -np N unroll sweep` (docs/distributed.md): over 3 ranks the
# reduced grid gives the serial sweep's numbers (sweep.json rows equal, sweep.md table equal), and a sweep
# continued with --resume trains only the runs without a result and again gives the same numbers.
source "$(dirname "$0")/../e2e/lib.sh"
MPI=("${MPIEXEC:-mpirun}" --oversubscribe -x OMP_NUM_THREADS=1)
[[ $(id -u) -eq 0 ]] && MPI+=(--allow-run-as-root)
GRID=(--cells 4,6 --histories 2,4 --horizons 1 --seeds 2 --epochs 1 --length 1200)

"$UNROLL" sweep "${GRID[@]}" --out serial >serial.txt
"${MPI[@]}" -np 3 "$UNROLL" sweep "${GRID[@]}" --out dist >dist.txt
same_rows() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, json
a, b = (json.load(open(d + "/sweep.json"))["rows"] for d in sys.argv[1:3])
assert a == b, "sweep rows differ:\n%s\n%s" % (a, b)
PY
  # the table (everything but the header line with the time taken)
  cmp <(grep '^|' "$1/sweep.md") <(grep '^|' "$2/sweep.md") || fail "sweep.md tables differ"
}
same_rows serial dist
[[ $(grep -c '^\[[0-9]*/8\]' dist.txt) -eq 8 ]] || fail "expected 8 progress lines from rank 0: $(cat dist.txt)"

# An interrupted sweep: two runs never finished, the summary never written. --resume trains those two only.
rm -f dist/sweep.* dist/runs/c6_h4_k1_s2/result.json dist/runs/c4_h2_k1_s1/result.json
"${MPI[@]}" -np 2 "$UNROLL" sweep "${GRID[@]}" --out dist --resume >resumed.txt
[[ $(grep -c "finished earlier" resumed.txt) -eq 6 ]] || fail "expected 6 runs read back: $(cat resumed.txt)"
same_rows serial dist
"$UNROLL" sweep "${GRID[@]}" --out dist --resume >again.txt  # serial resume: nothing left to train
[[ $(grep -c "finished earlier" again.txt) -eq 8 ]] || fail "expected 8 runs read back: $(cat again.txt)"
same_rows serial dist
expect_exit 2 "--out dist already holds" -- "$UNROLL" sweep "${GRID[@]}" --out dist
echo "mpi sweep: all ok"
