# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: `train --epochs 4` == `train --epochs 2 --decay-epochs 4` then `train --resume
# DIR/checkpoint.h5 --epochs 4` in a fresh process (bit-identical parameters), the same run again gives the same bits,
# the cosine's horizon follows --epochs, and a resume beyond the stored horizon continues at the final rate.
source "$(dirname "$0")/lib.sh"

"$UNROLL" train "${TINY[@]}" --epochs 4 --out straight
"$UNROLL" train "${TINY[@]}" --epochs 4 --out again
same_params straight/checkpoint.h5 again/checkpoint.h5

# The cosine's horizon follows --epochs and is stored: a run of 2 epochs on a 4-epoch horizon, resumed to 4,
# is the straight 4-epoch run.
"$UNROLL" train "${TINY[@]}" --epochs 2 --decay-epochs 4 --out split
"$UNROLL" train --resume split/checkpoint.h5 --epochs 4 --quiet --no-plot
same_params straight/checkpoint.h5 split/checkpoint.h5
/usr/bin/python3 -c "
import json; a = json.load(open('straight/report.json')); b = json.load(open('split/report.json'))
assert a['history'] == b['history'], 'histories differ'
assert a['test_rmse'] == b['test_rmse'] and b['epochs_run'] == 4 and b['resumed']"
/usr/bin/python3 -c "
import json; a = json.load(open('straight/report.json'))
t = a['config']['trainer']; h = a['history']
assert t['decay_epochs'] == 4 and t['epochs'] == 4, t
assert 0 < h[-1]['lr'] < h[0]['lr'] / 10, h  # the cosine ends with the run, not at a fixed 8 epochs"
# Beyond the stored horizon a resumed run continues at the final rate (said in one line at the start),
# bit-identical to a straight run started with that horizon.
"$UNROLL" train "${TINY[@]}" --epochs 2 --out short
"$UNROLL" train --resume short/checkpoint.h5 --epochs 4 --quiet --no-plot 2>resume_note.txt
grep -q "continues at that final rate, so epochs 3-4 will not change the weights" resume_note.txt ||
  fail "no note about the horizon: $(cat resume_note.txt)"
"$UNROLL" train "${TINY[@]}" --epochs 4 --decay-epochs 2 --out straight_short
same_params straight_short/checkpoint.h5 short/checkpoint.h5
/usr/bin/python3 -c "
import json; a = json.load(open('straight_short/report.json')); b = json.load(open('short/report.json'))
assert a['history'] == b['history'] and b['config']['trainer']['decay_epochs'] == 2, 'histories differ'"
expect_exit 2 "--hidden cannot be combined with --resume" -- "$UNROLL" train --resume split/checkpoint.h5 --hidden 16
echo "resume: all ok"
