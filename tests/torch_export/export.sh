# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of tools/unroll_to_torch.py on a forecaster `unroll train` wrote, for one
# cell kind ($4): the exported state_dict + nn.Module file reproduce `unroll predict` to 1e-5 in scaled and
# original units (residual, robust inputs, highway and two layers included); a bad file is one line, exit 2.
source "$3/tests/e2e/lib.sh"
CELL="$4"
/usr/bin/python3 -c "
import math
with open('wave.csv', 'w') as f:
    f.write('v\n')
    for i in range(400): f.write('%.6f\n' % (math.sin(i / 6.0) + 0.2 * math.sin(0.37 * i * i) + (3.0 if i % 97 == 50 else 0.0)))"
check() {  # check RUN_DIR: export best.h5, compare with unroll predict on every window of wave.csv
  "$UNROLL" predict --checkpoint "$1/best.h5" --data wave.csv --column v --out "$1/preds.csv" >/dev/null
  /usr/bin/python3 "$SRC/tools/unroll_to_torch.py" "$1/best.h5" "$1/model.pt" >/dev/null
  /usr/bin/python3 - "$1" <<'PY'
import csv, importlib.util, json, sys
import torch
d = sys.argv[1]
spec = importlib.util.spec_from_file_location("m", d + "/model.py"); m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
net = m.load(d + "/model.pt")
values = [float(r["v"]) for r in csv.DictReader(open("wave.csv"))]
rows = list(csv.DictReader(open(d + "/preds.csv")))
T = net.config["history"]
idx = [int(r["index"]) for r in rows]
windows = torch.tensor([values[i - T:i] for i in idx], dtype=torch.float64)  # horizon 1
want = torch.tensor([float(r["prediction"]) for r in rows], dtype=torch.float64)
got = net.predict(windows)
off, scale = net.config["scaler_offset"], net.config["scaler_scale"]
err_orig = (got - want).abs().max().item()
err_scaled = ((got - want) / scale).abs().max().item()
assert err_scaled < 1e-5 and err_orig < 1e-5 * max(1.0, scale), (err_scaled, err_orig)
print("%s: %d windows, max error %.2g scaled, %.2g original" % (d, len(rows), err_scaled, err_orig))
PY
}
"$UNROLL" train --data wave.csv --column v --model "$CELL" --hidden 12 --history 10 --epochs 2 --batch 32 --no-plot --quiet --out plain
check plain
"$UNROLL" train --data wave.csv --column v --model "$CELL" --hidden 12 --history 10 --epochs 2 --batch 32 --layers 2 \
  --highway true --despike 3 --no-plot --quiet --out full
check full
# errors: one line, exit 2
printf 'not hdf5' >bad.h5
set +e
/usr/bin/python3 "$SRC/tools/unroll_to_torch.py" bad.h5 bad.pt 2>err.txt; rc=$?
set -e
[[ $rc -eq 2 && $(wc -l <err.txt) -eq 1 ]] || fail "bad file: exit $rc, stderr: $(cat err.txt)"
echo "torch export ($CELL): all ok"
