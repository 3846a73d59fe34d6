# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: SIGINT (then SIGTERM) at a random moment of a real run finishes the step, saves, exits with
# 128+signal and a one-line "resume with" message; resuming gives the uninterrupted run's bits. A signal after
# training finished (during the test-split evaluation) stops the same way before the report, and resuming writes
# the report the uninterrupted run writes.
source "$(dirname "$0")/lib.sh"
ARGS=(--length 16000 --hidden 24 --history 8 --batch 16 --epochs 6 --no-plot --quiet)

"$UNROLL" train "${ARGS[@]}" --out straight

for sig in INT TERM; do
  out="run_$sig"
  "$UNROLL" train "${ARGS[@]}" --out "$out" 2>"err_$sig.txt" &
  pid=$!
  # wait until training runs (the first checkpoint exists), then a random extra delay
  for _ in $(seq 1 600); do [[ -e "$out/checkpoint.h5" ]] && break; sleep 0.05; done
  sleep "0.$(( RANDOM % 3 ))$(( RANDOM % 10 ))"  # 0 - 0.29 s: inside epoch 2 (an epoch takes ~0.5 s)
  kill -s "$sig" "$pid" || true
  set +e
  wait "$pid"
  rc=$?
  set -e
  [[ $rc -ne 0 ]] || fail "the run finished before SIG$sig arrived (make the run longer)"
  if true; then
    [[ "$sig" == INT ]] && expected=130 || expected=143
    [[ $rc -eq $expected ]] || fail "SIG$sig: expected exit $expected, got $rc: $(cat "err_$sig.txt")"
    [[ $(wc -l <"err_$sig.txt") -eq 1 ]] || fail "SIG$sig: expected one line: $(cat "err_$sig.txt")"
    grep -q "resume with: unroll train --resume $out/checkpoint.h5" "err_$sig.txt" || fail "no resume hint: $(cat "err_$sig.txt")"
    echo "SIG$sig: $(cat "err_$sig.txt")"
    "$UNROLL" train --resume "$out/checkpoint.h5" --quiet --no-plot
  fi
  same_params straight/checkpoint.h5 "$out/checkpoint.h5"
done
# After training: one epoch on 2 % of a long series, then ~2 s of evaluation on the other 98 %. checkpoint.h5
# appears (atomically) only when the one epoch ends, so the signal lands in the evaluation.
/usr/bin/python3 - <<'PY'
import math, random
random.seed(1)
with open("long.csv", "w") as f:
    f.write("t,v\n")
    for i in range(120000):
        f.write(f"{i},{math.sin(i * 0.05) + 0.1 * random.gauss(0, 1):.6f}\n")
PY
LATE=(--data long.csv --column v --train-fraction 0.02 --val-fraction 0.02 --epochs 1 --hidden 64 --history 64 --no-plot --quiet)
"$UNROLL" train "${LATE[@]}" --out late_straight
"$UNROLL" train "${LATE[@]}" --out late 2>err_late.txt &
pid=$!
for _ in $(seq 1 600); do [[ -e late/checkpoint.h5 ]] && break; sleep 0.02; done
kill -s TERM "$pid" || true
set +e
wait "$pid"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "the run finished its evaluation before SIGTERM arrived (make the test split longer)"
[[ $rc -eq 143 ]] || fail "SIGTERM after training: expected exit 143, got $rc: $(cat err_late.txt)"
[[ $(wc -l <err_late.txt) -eq 1 ]] || fail "SIGTERM after training: expected one line: $(cat err_late.txt)"
grep -q "after training finished; saved late/checkpoint.h5, the report was not written (resume with: unroll train --resume late/checkpoint.h5)" err_late.txt ||
  fail "SIGTERM after training: $(cat err_late.txt)"
[[ ! -e late/report.json ]] || fail "SIGTERM after training: report.json was written anyway"
echo "SIGTERM after training: $(cat err_late.txt)"
"$UNROLL" train --resume late/checkpoint.h5 --quiet --no-plot
/usr/bin/python3 - <<'PY' || fail "the resumed run's report differs from the straight run's"
import json
a, b = json.load(open("late_straight/report.json")), json.load(open("late/report.json"))
differ = sorted(k for k in a if k not in ("resumed", "training_seconds") and a[k] != b.get(k))
assert not differ, differ
PY
cmp late_straight/forecast.csv late/forecast.csv || fail "the resumed run's forecast.csv differs"
echo "interrupt: all ok"
