# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of issue 22's bad inputs on the command line (items 8 and 10): every
# option error is one short line naming the option, the value and the allowed range (exit 2); gradcheck
# tolerances are checked at parse, a failing gradcheck says so on stderr (exit 1) and rnn_relu passes at
# size 64 (ReLU kinks reported, not failed); bench sizes are capped; endless or device --data is refused.
source "$(dirname "$0")/lib.sh"

short_line() { [[ $(wc -c <err.txt) -le 160 ]] || fail "long message: $(cat err.txt)"; }
expect_exit 2 "train --hidden 0: must be an integer from 1 to 65536" -- "$UNROLL" train --hidden 0; short_line
expect_exit 2 "train --lr abc: not a number" -- "$UNROLL" train --lr abc; short_line
expect_exit 2 "train --lr: given 2 times" -- "$UNROLL" train --lr 1 --lr 2; short_line
expect_exit 2 "train --seed -1: must be an integer from 0 to" -- "$UNROLL" train --seed -1; short_line
expect_exit 2 "must be an integer from 0 to" -- "$UNROLL" train --seed 99999999999999999999999; short_line
expect_exit 2 "eval --checkpoint: needs a value" -- "$UNROLL" eval --checkpoint
expect_exit 2 "sweep --seeds 0: must be an integer from 1 to 100" -- "$UNROLL" sweep --seeds 0

# gradcheck
expect_exit 2 "gradcheck --atol -1: must be a number >= 0" -- "$UNROLL" gradcheck --cell lstm --atol -1
expect_exit 2 "gradcheck --rtol -0.5: must be a number >= 0" -- "$UNROLL" gradcheck --cell lstm --rtol -0.5
expect_exit 2 "gradcheck --atol nan: must be a number >= 0" -- "$UNROLL" gradcheck --cell lstm --atol nan
expect_exit 1 "gradcheck FAILED for cell lstm" -- "$UNROLL" gradcheck --cell lstm --atol 0 --rtol 0
# (before: FAILED, abs error 1.98, from finite differences across ReLU kinks)
"$UNROLL" gradcheck --cell rnn_relu --hidden 64 --batch 16 >gc.txt || fail "rnn_relu at hidden 64 failed: $(cat gc.txt)"
grep -q "PASSED" gc.txt || fail "no PASSED: $(cat gc.txt)"
grep -q "kink, skipped" gc.txt || fail "no kinks reported: $(cat gc.txt)"

# bench caps
expect_exit 2 "bench --seq 100000000: must be an integer from 1 to 100000" -- "$UNROLL" bench --seq 100000000
expect_exit 2 "bench --threads 100000: must be an integer from 0 to 1024" -- "$UNROLL" bench --threads 100000
expect_exit 2 "bench: --min-length 20 is longer than --seq 10" -- "$UNROLL" bench --min-length 20 --seq 10
expect_exit 2 "needs about" -- "$UNROLL" bench --seq 100000 --batch 65536 --hidden 65536

# --data that never ends or is a device
expect_exit 2 "not a regular file" -- "$UNROLL" train --data /dev/zero --column v --epochs 1 --quiet --no-plot --out r1
head -c 2000000 /dev/zero | tr '\0' 'x' >oneline.csv
expect_exit 2 "the record is longer than 1048576 bytes" -- "$UNROLL" train --data oneline.csv --column v --epochs 1 --quiet --no-plot --out r3

# a FIFO as data or checkpoint: refused at once, never waiting for a writer (timeout turns a hang into 124)
mkfifo pipe.fifo
expect_exit 2 "not a regular file" -- timeout 30 "$UNROLL" train --data pipe.fifo --column v --epochs 1 --quiet --no-plot --out r4
for cmd in "inspect pipe.fifo" "eval --checkpoint pipe.fifo" "predict --checkpoint pipe.fifo --out p.csv" "train --resume pipe.fifo"; do
  # shellcheck disable=SC2086
  expect_exit 2 "not a regular file" -- timeout 30 "$UNROLL" $cmd
done

# plot: gnuplot's wait status in words; "install gnuplot" only when it is missing
/usr/bin/python3 -c "
import math
print('t,v')
for i in range(200): print('%d,%.5f' % (i, math.sin(i / 5.0)))" >small.csv
"$UNROLL" train --data small.csv --column v --hidden 4 --history 4 --epochs 1 --quiet --no-plot --out plotrun
mkdir -p fakebin nobin
printf '#!/bin/sh\necho "line 1: bad font" >&2\nexit 3\n' >fakebin/gnuplot
chmod +x fakebin/gnuplot
expect_exit 2 "plot: gnuplot failed with exit code 3: line 1: bad font" -- env PATH="$WORK/fakebin" "$UNROLL" plot plotrun
grep -q "install gnuplot" err.txt && fail "install hint with gnuplot present: $(cat err.txt)"
printf '#!/bin/sh\nkill -SEGV $$\n' >fakebin/gnuplot
expect_exit 2 "killed by signal 11" -- env PATH="$WORK/fakebin" "$UNROLL" plot plotrun
expect_exit 2 "gnuplot is not installed" -- env PATH="$WORK/nobin" "$UNROLL" plot plotrun
grep -q "install gnuplot" err.txt || fail "no install hint: $(cat err.txt)"
echo "hostile inputs: all ok"
