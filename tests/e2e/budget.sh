# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: CSV data without --epochs trains until the validation loss stops
# improving, under a cap that scales with the data (steps, not epochs), and without --history uses the
# best AR order on validation (clamped to [8, 32]); both choices are in report.json and the start lines,
# and a line says why training stopped; explicit --epochs/--history are obeyed as given.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "
import math
with open('wave.csv', 'w') as f:
    f.write('y\n')
    for i in range(300): f.write('%.6f\n' % (math.sin(i / 4.0) + 0.3 * math.sin(0.37 * i * i)))"
"$UNROLL" train --data wave.csv --column y --hidden 8 --batch 32 --no-plot --out auto >auto.txt
grep -q "^inputs: no --history: " auto.txt || fail "no line saying how the history was chosen: $(head -3 auto.txt)"
grep -q "^budget: no --epochs: a cap of " auto.txt || fail "no budget line at start: $(head -3 auto.txt)"
grep -q "^stopped: " auto.txt || fail "no line saying why training stopped: $(tail -12 auto.txt)"
/usr/bin/python3 - auto/report.json <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
c = r["config"]; t = c["trainer"]; b = c["choices"]["budget"]
per_epoch = math.ceil(r["data"]["windows"]["train"] / 32)
cap = min(max(20 * per_epoch, 4000), 20000)
assert c["auto_budget"] and b["epochs"] == math.ceil(cap / per_epoch) == t["epochs"] == t["decay_epochs"], (b, t)
assert t["patience"] == max(10, t["epochs"] // 5) == b["patience"], t
assert r["epochs_run"] <= t["epochs"]
h = c["choices"]["history"]  # the best AR order on validation, clamped to [8, 32]
assert h["history"] == c["data"]["history"] == c["model"]["history"] == min(max(h["ar_order"], 8), 32), h
if r["status"] == "early_stopped":  # stopped by patience: the best epoch is `patience` epochs back
    assert r["epochs_run"] - r["best_epoch"] == t["patience"], r
PY
"$UNROLL" train --data wave.csv --column y --hidden 8 --history 8 --batch 32 --no-plot --epochs 3 --out fixed >fixed.txt
grep -q "^stopped: completed the run's 3 epochs" fixed.txt || fail "fixed: $(tail -12 fixed.txt)"
/usr/bin/python3 -c "
import json; r = json.load(open('fixed/report.json')); c = r['config']
assert not c['auto_budget'] and not c['auto_history'] and list(c['choices']) == ['period'] and r['epochs_run'] == 3 and c['trainer']['patience'] == 0"
echo "budget: all ok"
