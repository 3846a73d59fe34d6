# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: the baselines never prevent a report. Clean series whose AR normal
# equations are singular (a sine rounded to 6 digits, a ramp, a 12-periodic signal) train, eval and resume
# to a report with the ridge fallback named; `eval --data` on a CSV too short for AR(history) gives a
# shorter AR or "n/a" with the reason, not an error.
source "$(dirname "$0")/lib.sh"
SMALL=(--hidden 8 --history 16 --batch 32 --epochs 1 --no-plot --quiet)

/usr/bin/python3 - <<'PY'
import math
series = {
    "sine": lambda i: round(math.sin(i / 5.0), 6),
    "ramp": lambda i: 0.5 * i,
    "periodic": lambda i: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8][i % 12],
}
for name, f in series.items():
    with open(name + ".csv", "w") as out:
        out.write("t,y\n")
        for i in range(400): out.write("%d,%r\n" % (i, f(i)))
with open("short.csv", "w") as out:
    out.write("y\n" + "".join("%r\n" % round(math.sin(i / 3.0), 6) for i in range(20)))
with open("tiny.csv", "w") as out:
    out.write("y\n" + "".join("%r\n" % float(i % 3) for i in range(17)))
PY

for s in sine ramp periodic; do
  "$UNROLL" train --data $s.csv --column y "${SMALL[@]}" --out $s || fail "train on $s.csv: exit $?"
  /usr/bin/python3 - $s/report.json <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
b = r["baselines"]
assert b["ar_rmse"] is not None and math.isfinite(b["ar_rmse"]), b
assert "ridge" in b.get("ar_note", ""), b  # says the fit was regularised
assert b["best"]["rmse"] is not None, b
PY
  "$UNROLL" eval --checkpoint $s/best.h5 >$s-eval.txt || fail "eval of $s: exit $?"
  grep -q "ridge" $s-eval.txt || fail "eval table of $s does not name the ridge fallback: $(cat $s-eval.txt)"
  "$UNROLL" train --resume $s/checkpoint.h5 --epochs 2 --quiet --no-plot || fail "resume of $s: exit $?"
done
grep -q "verdict: the model is" sine-eval.txt || fail "no verdict line: $(cat sine-eval.txt)"

# 20 values, history 16: 4 windows, too few for AR(16) -> a shorter AR, said in the table and the JSON
"$UNROLL" eval --checkpoint sine/best.h5 --data short.csv --column y >short.txt || fail "eval --data short.csv: exit $?"
grep -q "instead of AR(16)" short.txt || fail "short CSV: no reduced AR: $(cat short.txt)"
# 17 values: one window; AR is n/a with the reason, persistence still scores
"$UNROLL" eval --checkpoint sine/best.h5 --data tiny.csv --column y --json --out tiny.json >/dev/null ||
  fail "eval --data tiny.csv: exit $?"
/usr/bin/python3 - tiny.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b = r["baselines"]
assert r["windows"] == 1 and b["ar_rmse"] is None and b["ar_note"].startswith("n/a"), b
assert b["persistence_rmse"] is not None and b["best"]["name"] == "persistence", b
PY
echo "baselines: all ok"
