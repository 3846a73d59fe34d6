# What lives here: end-to-end test: SIGINT (then SIGTERM) at a random moment of a real run finishes the step, saves, exits with
# 128+signal and a one-line "resume with" message; resuming gives the uninterrupted run's bits.
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
echo "interrupt: all ok"
