# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of files, folders and signals (docs/reliability.md, "Files, folders and
# signals"): a file size limit (SIGXFSZ, and EFBIG with the signal ignored, the path a full disk takes)
# gives one line, exit 2, no crash and no temporary; output paths that are not regular files are refused;
# a run locks its folder; a new run does not mix with an earlier one's files; bad --out folders and
# impossible sizes are refused before training; eval --json writes nothing; --resume of an older
# checkpoint does not rewind the folder's newer one; `train | head -1` stops cleanly; plot redraws a
# forecast older than its checkpoint.
source "$(dirname "$0")/lib.sh"
T=("${TINY[@]}" --epochs 2)
no_temporaries() {
  local left
  left=$(find "$1" -name '*.tmp*')
  [ -z "$left" ] || fail "temporary files left in $1: $left"
}

# -- a file size limit: SIGXFSZ is ignored by unroll, the save fails with EFBIG in one line
set +e
(ulimit -f 4; "$UNROLL" train "${T[@]}" --out fsz 2>err.txt); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "ulimit -f: expected exit 2, got $rc: $(cat err.txt)"
[[ $(wc -l <err.txt) -eq 1 ]] && grep -q "File too large" err.txt || fail "ulimit -f: $(cat err.txt)"
no_temporaries fsz
echo "ok: ulimit -f -> $(cat err.txt)"
# the same with SIGXFSZ already ignored by the caller: no crash at exit (HDF5 kept the failed file open)
set +e
(ulimit -f 4; trap '' XFSZ; "$UNROLL" train "${T[@]}" --out fsz2 2>err.txt); rc=$?
set -e
[[ $rc -eq 2 && $(wc -l <err.txt) -eq 1 ]] || fail "EFBIG: expected exit 2 and one line, got $rc: $(cat err.txt)"
no_temporaries fsz2
echo "ok: EFBIG exits 2"
# a real full disk where an unprivileged mount namespace is available
if unshare -rm true 2>/dev/null; then
  mkdir -p full
  set +e
  unshare -rm bash -c 'mount -t tmpfs -o size=16k tmpfs full && "$0" train "$@" --out full/run 2>err.txt; echo $? >rc.txt; ls -a full/run >ls.txt' "$UNROLL" "${T[@]}"
  set -e
  [[ $(cat rc.txt) -eq 2 && $(wc -l <err.txt) -eq 1 ]] && grep -q "No space left on device" err.txt ||
    fail "ENOSPC: expected exit 2 and one line, got $(cat rc.txt): $(cat err.txt)"
  ! grep -q '\.tmp' ls.txt || fail "ENOSPC: temporary left: $(cat ls.txt)"
  echo "ok: full disk -> $(cat err.txt)"
else
  echo "skipped: full disk (no unprivileged mount namespace here; the EFBIG case above takes the same path)"
fi

# -- a finished run to work with
"$UNROLL" train "${T[@]}" --out run

# -- output paths that are not regular files: refused, left alone; '-' is standard output
mkfifo fifo
ln -s run/report.json link.json
mkdir adir
cp run/report.json report.copy
for out in fifo link.json adir; do
  expect_exit 2 "refusing to replace it" -- "$UNROLL" predict --checkpoint run/best.h5 --out "$out"
  expect_exit 2 "refusing to replace it" -- "$UNROLL" eval --checkpoint run/best.h5 --out "$out"
done
[[ -p fifo && -L link.json && -d adir ]] || fail "an output that is not a regular file was replaced"
cmp run/report.json report.copy || fail "the symlink's target changed"
"$UNROLL" predict --checkpoint run/best.h5 --out - >stdout.csv
[[ $(head -1 stdout.csv) == "index,prediction,target" && $(wc -l <stdout.csv) -gt 10 ]] || fail "predict --out -: $(head -3 stdout.csv)"
no_temporaries .

# -- eval --json prints only: no eval.json in the checkpoint's folder
"$UNROLL" eval --checkpoint run/best.h5 --json >eval.json
[[ ! -e run/eval.json ]] || fail "eval --json wrote run/eval.json"

# -- bad --out folders and impossible sizes: exit 2 before any training
echo x >afile
expect_exit 2 "is a regular file, not a folder" -- "$UNROLL" train "${T[@]}" --out afile
expect_exit 2 "Not a directory" -- "$UNROLL" train "${T[@]}" --out afile/sub
expect_exit 2 "--out is empty" -- "$UNROLL" train "${T[@]}" --out ""
expect_exit 2 "is under /proc" -- "$UNROLL" train "${T[@]}" --out /proc/self/run
if [[ $(id -u) -ne 0 ]]; then
  mkdir ro && chmod 555 ro
  expect_exit 2 "Permission denied" -- "$UNROLL" train "${T[@]}" --out ro/run
  chmod 755 ro
else
  echo "skipped: unwritable --out (running as root, who may write anywhere)"
fi
expect_exit 2 "needs at least" -- "$UNROLL" train --length 2000 --hidden 60000 --batch 100000 --no-plot --quiet --out huge
[[ ! -e huge/checkpoint.h5 ]] || fail "the huge run trained"
# sizes under the up-front estimate that still do not fit an address-space limit: "out of memory", exit 2
if [[ -z "${UNROLL_SANITIZED:-}" ]]; then
  set +e
  (ulimit -v 1000000; "$UNROLL" train --length 3000 --hidden 1024 --batch 512 --history 64 --epochs 1 --no-plot --quiet \
    --out oom 2>err.txt); rc=$?
  set -e
  [[ $rc -eq 2 && $(wc -l <err.txt) -eq 1 ]] && grep -qE "out of memory|needs at least" err.txt ||
    fail "ulimit -v: expected exit 2 and one line about memory, got $rc: $(cat err.txt)"
  echo "ok: ulimit -v -> $(cat err.txt)"
else
  echo "skipped: ulimit -v (a sanitizer build reserves terabytes of address space for its shadow memory)"
fi

# -- a new run into a used folder: refused; --overwrite replaces the earlier run's files
expect_exit 2 "already holds the outputs of an earlier run (checkpoint.h5, best.h5, report.json, forecast.csv)" -- \
  "$UNROLL" train "${T[@]}" --out run
"$UNROLL" train "${T[@]}" --seed 7 --out run --overwrite
/usr/bin/python3 -c "
import json; r = json.load(open('run/report.json'))
assert r['config']['trainer']['seed'] == 7, r['config']"

# -- one folder, two runs: the second is refused naming the first's PID
"$UNROLL" train --length 16000 --hidden 24 --history 8 --batch 16 --epochs 50 --decay-epochs 50 --no-plot --quiet --out busy 2>hup.txt &
pid=$!
for _ in $(seq 1 600); do [[ -e busy/checkpoint.h5 ]] && break; sleep 0.05; done
expect_exit 2 "busy: is in use by another unroll process (pid $pid)" -- "$UNROLL" train "${T[@]}" --out busy --overwrite
expect_exit 2 "is in use by another unroll process (pid $pid)" -- "$UNROLL" plot busy
# SIGHUP (the terminal went away) stops the run like SIGTERM: checkpoint saved, exit 129
kill -s HUP "$pid"
set +e
wait "$pid"
rc=$?
set -e
[[ $rc -eq 129 && $(wc -l <hup.txt) -eq 1 ]] && grep -q "resume with: unroll train --resume busy/checkpoint.h5" hup.txt ||
  fail "SIGHUP: expected exit 129 and one line, got $rc: $(cat hup.txt)"
# the kernel dropped the lock with the process: the run continues
"$UNROLL" train --resume busy/checkpoint.h5 --epochs 2 --quiet --no-plot
expect_exit 2 "already holds the outputs" -- "$UNROLL" train "${T[@]}" --out busy

# -- --resume of an older checkpoint does not rewind the folder's newer checkpoint.h5
"$UNROLL" train "${TINY[@]}" --epochs 1 --out rew
cp rew/checkpoint.h5 rew/epoch1.h5
"$UNROLL" train --resume rew/checkpoint.h5 --epochs 3 --quiet --no-plot
expect_exit 2 "would overwrite the newer rew/checkpoint.h5" -- "$UNROLL" train --resume rew/epoch1.h5 --epochs 4
mkdir rew2 && cp rew/epoch1.h5 rew2/checkpoint.h5
"$UNROLL" train --resume rew2/checkpoint.h5 --epochs 2 --quiet --no-plot

# -- train | head -1: stops at the next epoch with a checkpoint and one line, exit 141; resumable
set +e +o pipefail
"$UNROLL" train --length 2000 --hidden 8 --history 8 --batch 32 --no-plot --epochs 100 --decay-epochs 100 --out piped 2>err.txt | head -1 >/dev/null
rc=${PIPESTATUS[0]}
set -e -o pipefail
[[ $rc -eq 141 ]] || fail "train | head -1: expected exit 141, got $rc: $(cat err.txt)"
[[ $(wc -l <err.txt) -eq 1 ]] && grep -q "standard output was closed (broken pipe); interrupted" err.txt ||
  fail "train | head -1: $(cat err.txt)"
[[ -s piped/checkpoint.h5 ]] || fail "train | head -1: no checkpoint"
echo "ok: $(cat err.txt)"
"$UNROLL" train --resume piped/checkpoint.h5 --quiet --no-plot

# -- plot redraws a forecast that is older than its checkpoint
touch -d '2001-01-01' run/forecast.csv
set +e
"$UNROLL" plot run >/dev/null 2>&1
set -e
[[ run/forecast.csv -nt run/best.h5 ]] || fail "plot kept a forecast.csv older than best.h5"
# -- quotes and shell syntax in --out reach neither a shell nor gnuplot's parser
q="o'\$(touch pwned)'q"
"$UNROLL" train --length 2000 --hidden 8 --history 8 --batch 32 --quiet --epochs 1 --out "$q"
[[ ! -e pwned ]] || fail "a shell ran a command from --out"
if command -v gnuplot >/dev/null; then
  [[ -s "$q/loss.png" && -s "$q/forecast.png" ]] || fail "no plots in '$q': $(ls -a "$q")"
fi
no_temporaries "$q"

# -- sweep: its folder is refused when it holds an earlier sweep, unless --overwrite
SW=(--cells 4 --histories 2 --horizons 1 --seeds 1 --epochs 1 --length 1200 --out sw)
"$UNROLL" sweep "${SW[@]}" >/dev/null
expect_exit 2 "sweep: --out sw already holds the outputs of an earlier run (sweep.md, sweep.json, sweep.dat, sweep.gp" -- \
  "$UNROLL" sweep "${SW[@]}"
"$UNROLL" sweep "${SW[@]}" --overwrite >/dev/null
[[ -s sw/sweep.md ]] || fail "sweep --overwrite wrote no sweep.md"
echo "files: all ok"
