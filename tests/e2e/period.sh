# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: --period gives the seasonal-naive baseline's period (report.json, the
# start line, the table, eval); without it the period is detected on the training split and the start
# line and report say so; --resume cannot change it.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "
import math
with open('season.csv', 'w') as f:
    f.write('y\n')
    for i in range(400): f.write('%.6f\n' % (math.sin(2 * math.pi * i / 12) + 0.2 * math.sin(0.37 * i * i)))"
"$UNROLL" train --data season.csv --column y --hidden 8 --history 8 --epochs 1 --no-plot --period 7 --out given >given.txt
grep -q "^baselines: seasonal period 7 (given with --period)" given.txt || fail "start line: $(head -4 given.txt)"
grep -q "seasonal-naive(7)" given.txt || fail "table: $(tail -8 given.txt)"
/usr/bin/python3 -c "
import json; r = json.load(open('given/report.json')); b = r['baselines']
assert b['seasonal_period'] == 7 and b['period_source'] == 'given' and r['config']['data']['period'] == 7, b
assert r['config']['choices']['period']['period'] == 7"
"$UNROLL" eval --checkpoint given/best.h5 --json >eval.json
/usr/bin/python3 -c "import json; e = json.load(open('eval.json')); assert e['baselines']['seasonal_period'] == 7, e['baselines']"
"$UNROLL" train --data season.csv --column y --hidden 8 --history 8 --epochs 1 --no-plot --out detected >detected.txt
grep -q "^baselines: seasonal period 12 (detected on the training split" detected.txt || fail "start line: $(head -4 detected.txt)"
/usr/bin/python3 -c "
import json; r = json.load(open('detected/report.json')); b = r['baselines']
assert b['seasonal_period'] == 12 and b['period_source'] == 'detected on the training split', b
assert r['config']['data']['period'] == 0 and r['config']['choices']['period']['period'] == 12"
expect_exit 2 "train: --period cannot be combined with --resume" -- "$UNROLL" train --resume given/checkpoint.h5 --period 12
expect_exit 2 "--period" -- "$UNROLL" train --data season.csv --column y --period 0
echo "period: all ok"
