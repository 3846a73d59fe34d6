# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: bad CSV files and bad usage exit with 2 and one line naming the file, line and column;
# a diverging run exits 1 naming epoch and step.
source "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c "
import math
print('t,volts')
for i in range(400): print('%d,%.5f' % (i, math.sin(i / 7.0)))" >good.csv
good() { cat good.csv; }
T=(--hidden 4 --history 4 --epochs 1 --quiet --no-plot)

{ good | head -50; echo "50,abc"; good | tail -n +52; } >text.csv
expect_exit 2 "text.csv" -- "$UNROLL" train --data text.csv --column volts "${T[@]}" --out r1
grep -q "line 51" err.txt || fail "no line number: $(cat err.txt)"
grep -q "volts" err.txt || fail "no column name: $(cat err.txt)"

{ good | head -20; echo "19,"; good | tail -n +22; } >missing.csv
expect_exit 2 "line 21" -- "$UNROLL" train --data missing.csv --column volts "${T[@]}" --out r2

{ good | head -30; echo "29,nan"; good | tail -n +32; } >nan.csv
expect_exit 2 "line 31" -- "$UNROLL" train --data nan.csv --column volts "${T[@]}" --out r3

expect_exit 2 "voltz" -- "$UNROLL" train --data good.csv --column voltz "${T[@]}" --out r4
expect_exit 2 "nosuch.csv" -- "$UNROLL" train --data nosuch.csv --column volts "${T[@]}" --out r5
printf 't,volts\n1,2\n' >short.csv
expect_exit 2 "short.csv" -- "$UNROLL" train --data short.csv --column volts "${T[@]}" --out r6
printf 'volts,volts\n1,2\n' >dup.csv
expect_exit 2 "dup.csv" -- "$UNROLL" train --data dup.csv --column volts "${T[@]}" --out r7

# usage
expect_exit 2 "--frobnicate" -- "$UNROLL" train --frobnicate
expect_exit 2 "--hidden" -- "$UNROLL" train --hidden 0
expect_exit 2 "--column" -- "$UNROLL" train --data good.csv
expect_exit 2 "adagrad" -- "$UNROLL" train --optimizer adagrad
expect_exit 2 "" -- "$UNROLL"
expect_exit 2 "nothere.h5" -- "$UNROLL" inspect nothere.h5
expect_exit 2 "good.csv" -- "$UNROLL" eval --checkpoint good.csv

# a diverging run: the loss overflows float32 after a huge step
expect_exit 1 "training stopped at epoch 1, step" -- "$UNROLL" train --data good.csv --column volts --hidden 4 \
  --history 4 --epochs 2 --optimizer sgd --lr 1e30 --clip 0 --residual false --quiet --no-plot --out diverge
grep -q "the loss is" err.txt || fail "no loss named: $(cat err.txt)"
[[ -s diverge/checkpoint.h5 ]] && fail "a diverged first epoch must not leave a checkpoint"
expect_exit 1 "anomaly: op '" -- "$UNROLL" train --data good.csv --column volts --hidden 4 \
  --history 4 --epochs 2 --optimizer sgd --lr 1e30 --clip 0 --residual false --quiet --no-plot --out diverge2 \
  --detect-anomaly
grep -q "produced a non-finite value" err.txt || fail "anomaly message: $(cat err.txt)"
echo "bad inputs: all ok"
