# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: every command on a tiny run: train (files, report.json keys, table), eval (test split and
# another CSV), predict, inspect (text and --json), plot, gradcheck.
source "$(dirname "$0")/lib.sh"

"$UNROLL" train --length 2000 --hidden 8 --history 8 --batch 32 --no-plot --epochs 2 --out run >train.txt
grep -q "epoch 2/2" train.txt || fail "no per-epoch progress line: $(cat train.txt)"
grep -q "persistence" train.txt || fail "no comparison table"
for f in checkpoint.h5 best.h5 report.json forecast.csv; do [[ -s run/$f ]] || fail "run/$f missing"; done
/usr/bin/python3 - run/report.json <<'PY'
import json, sys, math
r = json.load(open(sys.argv[1]))
for k in ["test_rmse", "test_mae", "scaler", "config", "epochs_run", "training_seconds", "history"]:
    assert k in r, k
for k in ["persistence_rmse", "ar_rmse"]:
    assert k in r["baselines"], k
assert r["epochs_run"] == 2 and len(r["history"]) == 2
assert r["scaler"]["kind"] == "min_max"
assert r["config"]["model"]["net"]["recurrent"]["cell"] == "lstm" and r["config"]["model"]["net"]["recurrent"]["hidden_size"] == 8
assert math.isfinite(r["test_rmse"]) and r["test_rmse"] > 0
v = r["validation"]  # the split settings are chosen on, with its own baselines
assert v["windows"] == r["data"]["windows"]["validation"] and math.isfinite(v["rmse"]) and "ar_rmse" in v["baselines"]
assert r["config"]["trainer"]["schedule"]["kind"] == "cosine" and r["config"]["trainer"]["decay_epochs"] == 2  # follows --epochs
assert r["config"]["trainer"]["loss"] == "mse"
print("report.json ok")
PY
# the robust training loss: recorded in the config, the report stays RMSE
"$UNROLL" train "${TINY[@]}" --epochs 1 --loss huber --huber-delta 0.05 --out huber >huber.txt
/usr/bin/python3 -c "
import json; r = json.load(open('huber/report.json')); t = r['config']['trainer']
assert t['loss'] == 'huber' and t['huber_delta'] == 0.05 and r['test_rmse'] > 0, t"

"$UNROLL" eval --checkpoint run/best.h5 >eval.txt
grep -q "AR(8)" eval.txt || fail "eval table lacks AR(8): $(cat eval.txt)"
/usr/bin/python3 -c "import json; r = json.load(open('run/eval.json')); assert r['test_rmse'] > 0 and 'ar_rmse' in r['baselines']"
# eval's test RMSE equals the report's (same best.h5, same data)
/usr/bin/python3 -c "
import json; a = json.load(open('run/report.json')); b = json.load(open('run/eval.json'))
assert a['test_rmse'] == b['test_rmse'], (a['test_rmse'], b['test_rmse'])"

# another CSV: a header, a time column and the value column
/usr/bin/python3 -c "
import math
with open('other.csv', 'w') as f:
    f.write('t,volts\n')
    for i in range(300): f.write('%d,%.6f\n' % (i, 3.0 * math.sin(i / 9.0) + 0.3 * math.sin(0.37 * i * i)))"
"$UNROLL" eval --checkpoint run/best.h5 --data other.csv --column volts --json >eval.json
/usr/bin/python3 -c "import json; r = json.load(open('eval.json')); assert r['windows'] == 300 - 8 - 1 + 1, r['windows']"
"$UNROLL" predict --checkpoint run/best.h5 --data other.csv --column volts --out preds.csv
[[ $(head -1 preds.csv) == "index,prediction,target" ]] || fail "predict header"
[[ $(wc -l <preds.csv) -eq 293 ]] || fail "predict rows: $(wc -l <preds.csv)"
/usr/bin/python3 -c "
import csv, math
rows = list(csv.DictReader(open('preds.csv')))
assert int(rows[0]['index']) == 8
for r in rows:  # targets come back in original units
    i = int(r['index']); assert abs(float(r['target']) - 3.0 * math.sin(i / 9.0) - 0.3 * math.sin(0.37 * i * i)) < 1e-5, r"

"$UNROLL" inspect run/checkpoint.h5 >inspect.txt
grep -q "rnn/l0/w_ih" inspect.txt || fail "inspect lacks the parameter table"
grep -q "optimizer: adam after" inspect.txt || fail "inspect lacks the optimizer"
"$UNROLL" inspect run/checkpoint.h5 --json >inspect.json
/usr/bin/python3 -c "
import json; r = json.load(open('inspect.json'))
assert r['progress']['epoch'] == 2 and r['optimizer']['kind'] == 'adam'
assert any(p['path'] == 'net/head/weight' and p['shape'] == [1, 8] for p in r['parameters'])
assert r['scaler']['kind'] == 'min_max'"

if command -v gnuplot >/dev/null; then
  rm -f run/forecast.csv
  "$UNROLL" plot run
  for f in loss.png forecast.png; do [[ -s run/$f ]] || fail "plot did not write run/$f"; done
  head -c 4 run/loss.png | grep -q PNG || fail "loss.png is not a PNG"
fi

for cell in rnn lstm gru gru_lbr gru-lbr cifg; do  # gru-lbr: the older spelling; cifg: the example custom cell
  "$UNROLL" gradcheck --cell "$cell" --input 2 --hidden 3 --steps 3 >gc.txt || fail "gradcheck $cell failed: $(cat gc.txt)"
  grep -q "PASSED" gc.txt || fail "gradcheck $cell did not pass"
  grep -q "w_hh" gc.txt || fail "gradcheck $cell lacks per-parameter lines"
done
expect_exit 2 "unknown cell 'lstn'" -- "$UNROLL" gradcheck --cell lstn
echo "commands: all ok"
