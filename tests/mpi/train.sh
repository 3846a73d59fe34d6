#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of `mpirun -np N unroll train` (docs/distributed.md): 2 and 3 ranks (uneven
# shares) equal one process on the same global batch to float32 rounding, a repeat gives the same bits, a
# resume with the same N is bit-exact and N -> M (and -> 1 process) resumes, SIGINT/SIGTERM to mpirun or to
# the ranks stop every rank at one step with one line from rank 0, and a rank killed with SIGKILL ends the
# job promptly with the last checkpoint intact (it resumes to the uninterrupted run's bits). Run as `bash train.sh <unroll> <scratch> <source>`, MPIEXEC set (mpi.cmake).
source "$(dirname "$0")/../e2e/lib.sh"
MPI=("${MPIEXEC:-mpirun}" --oversubscribe -x OMP_NUM_THREADS=1)
[[ $(id -u) -eq 0 ]] && MPI+=(--allow-run-as-root)
np() { local n="$1"; shift; "${MPI[@]}" -np "$n" "$UNROLL" "$@"; }

# close A B RTOL: parameters and the test RMSE of two runs agree to RTOL (relative, float32 training).
close() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import sys, json, h5py, numpy as np
a, b, rtol = sys.argv[1], sys.argv[2], float(sys.argv[3])
fa, fb = h5py.File(a + "/checkpoint.h5", "r"), h5py.File(b + "/checkpoint.h5", "r")
names = []
fa["params"].visit(lambda n: names.append(n) if isinstance(fa["params"][n], h5py.Dataset) else None)
worst = 0.0
for n in names:
    x, y = fa["params"][n][()].astype(np.float64), fb["params"][n][()].astype(np.float64)
    worst = max(worst, float(np.max(np.abs(x - y) / (np.abs(y) + 1e-3))))
ra, rb = json.load(open(a + "/report.json")), json.load(open(b + "/report.json"))
assert len(ra["history"]) == len(rb["history"]), "histories differ in length"
d = abs(ra["test_rmse"] - rb["test_rmse"]) / rb["test_rmse"]
print("%s vs %s: parameters %.2g, test RMSE %.2g relative" % (a, b, worst, d))
assert worst < rtol and d < rtol, "not equal to rounding"
PY
}

"$UNROLL" train "${TINY[@]}" --epochs 2 --out single
np 2 train "${TINY[@]}" --epochs 2 --out np2 >np2_out.txt 2>np2_err.txt
[[ ! -s np2_err.txt && ! -s np2_out.txt ]] || fail "--quiet over 2 ranks printed: $(cat np2_out.txt np2_err.txt)"
close np2 single 1e-3
np 2 train "${TINY[@]}" --epochs 2 --out np2_again
same_params np2/checkpoint.h5 np2_again/checkpoint.h5
cmp <(/usr/bin/python3 -c "import json; print(json.load(open('np2/report.json'))['history'])") \
    <(/usr/bin/python3 -c "import json; print(json.load(open('np2_again/report.json'))['history'])") ||
  fail "repeated 2-rank runs have different histories"
np 3 train "${TINY[@]}" --epochs 2 --out np3
close np3 single 1e-3
# Only rank 0 prints: one header, one table.
np 3 train --length 2000 --hidden 8 --history 8 --batch 32 --no-plot --epochs 1 --out talk >talk.txt
[[ $(grep -c "^unroll train:" talk.txt) -eq 1 && $(grep -c "^data parallel: MPI, 3 ranks" talk.txt) -eq 1 ]] ||
  fail "expected one header from rank 0: $(cat talk.txt)"

# Resume: the same N is bit-exact; 3 -> 2 ranks and 2 -> 1 process continue the run.
np 2 train "${TINY[@]}" --epochs 1 --decay-epochs 2 --out r22
np 2 train --resume r22/checkpoint.h5 --epochs 2 --quiet --no-plot
same_params np2/checkpoint.h5 r22/checkpoint.h5
np 3 train "${TINY[@]}" --epochs 1 --decay-epochs 2 --out r32
np 2 train --resume r32/checkpoint.h5 --epochs 2 --quiet --no-plot
close r32 np2 1e-3
np 2 train "${TINY[@]}" --epochs 1 --decay-epochs 2 --out r21
"$UNROLL" train --resume r21/checkpoint.h5 --epochs 2 --quiet --no-plot
close r21 single 1e-3

# A signal to mpirun: OpenMPI sends every rank SIGCONT, then SIGTERM after odls_base_sigkill_timeout seconds
# (default 1) and SIGKILL after as many more; 3 s here, so a loaded machine still finishes the step and the
# save in time. The ranks agree to stop after the same step, rank 0 saves and says so in one line (mpirun
# itself exits 1), and resuming with the same N gives the uninterrupted run's bits.
export OMPI_MCA_odls_base_sigkill_timeout=3
ARGS=(--length 40000 --hidden 24 --history 8 --batch 16 --epochs 32 --no-plot --quiet)  # ~9 s on a quiet machine: well past 3 s
np 2 train "${ARGS[@]}" --out long
for sig in INT TERM; do
  out="stop_$sig"
  "${MPI[@]}" -np 2 "$UNROLL" train "${ARGS[@]}" --out "$out" 2>"err_$sig.txt" &  # $! is mpirun
  pid=$!
  for _ in $(seq 1 1200); do [[ -e "$out/checkpoint.h5" ]] && break; sleep 0.05; done
  kill -s "$sig" "$pid" || true
  set +e
  wait "$pid"
  rc=$?
  set -e
  [[ $rc -ne 0 ]] || fail "SIG$sig to mpirun: the run finished (make it longer)"
  [[ $(wc -l <"err_$sig.txt") -eq 1 ]] || fail "SIG$sig: expected one line: $(cat "err_$sig.txt")"
  # mid-training ("interrupted at epoch ...") or, when the run outpaced the T-second delay, after training
  grep -Eq "^unroll: (interrupted at epoch|stopped by SIGTERM after training).*resume with: unroll train --resume $out/checkpoint.h5" \
    "err_$sig.txt" || fail "no resume hint: $(cat "err_$sig.txt")"
  echo "SIG$sig to mpirun: exit $rc: $(cat "err_$sig.txt")"
  np 2 train --resume "$out/checkpoint.h5" --quiet --no-plot
  same_params long/checkpoint.h5 "$out/checkpoint.h5"
done
# A signal to the ranks themselves (what `srun` and a batch system's scancel do) arrives at once: the ranks
# stop mid-training at the same step, and each exits 128 + signal.
"${MPI[@]}" -np 2 "$UNROLL" train "${ARGS[@]}" --out stop_ranks 2>err_ranks.txt &
pid=$!
for _ in $(seq 1 1200); do [[ -e stop_ranks/checkpoint.h5 ]] && break; sleep 0.05; done
kill -s INT $(pgrep -P "$pid") || true
set +e
wait "$pid"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "SIGINT to the ranks: expected 130, got $rc: $(cat err_ranks.txt)"
[[ $(grep -c "^unroll: interrupted at epoch" err_ranks.txt) -eq 1 ]] || fail "expected one line from rank 0: $(cat err_ranks.txt)"
np 2 train --resume stop_ranks/checkpoint.h5 --quiet --no-plot
same_params long/checkpoint.h5 stop_ranks/checkpoint.h5

# SIGKILL to one rank: the job ends within seconds (never hangs) with a non-zero exit, and the last
# checkpoint still loads and resumes.
"${MPI[@]}" -np 2 "$UNROLL" train "${ARGS[@]}" --out killed 2>err_kill.txt &
pid=$!
for _ in $(seq 1 1200); do [[ -e killed/checkpoint.h5 ]] && break; sleep 0.05; done
victim=""
for child in $(pgrep -P "$pid"); do
  grep -qz "^OMPI_COMM_WORLD_RANK=1$" "/proc/$child/environ" 2>/dev/null && victim="$child"
done
[[ -n "$victim" ]] || fail "rank 1 of mpirun $pid not found"
kill -9 "$victim"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  kill -9 "$pid"
  fail "the job still runs 30 s after rank 1 was killed"
fi
set +e
wait "$pid"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a killed rank gave exit 0"
echo "rank 1 killed: exit $rc: $(head -c 300 err_kill.txt | tr '\n' ' ')"
np 2 train --resume killed/checkpoint.h5 --quiet --no-plot
same_params long/checkpoint.h5 killed/checkpoint.h5
echo "mpi train: all ok"
