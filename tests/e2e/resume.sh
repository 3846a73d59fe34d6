# What lives here: end-to-end test: `train --epochs 4` == `train --epochs 2` then `train --resume DIR/checkpoint.h5 --epochs 4`
# in a fresh process (bit-identical parameters), and the same run again gives the same bits.
source "$(dirname "$0")/lib.sh"

"$UNROLL" train "${TINY[@]}" --epochs 4 --out straight
"$UNROLL" train "${TINY[@]}" --epochs 4 --out again
same_params straight/checkpoint.h5 again/checkpoint.h5

"$UNROLL" train "${TINY[@]}" --epochs 2 --out split
"$UNROLL" train --resume split/checkpoint.h5 --epochs 4 --quiet --no-plot
same_params straight/checkpoint.h5 split/checkpoint.h5
/usr/bin/python3 -c "
import json; a = json.load(open('straight/report.json')); b = json.load(open('split/report.json'))
assert a['history'] == b['history'], 'histories differ'
assert a['test_rmse'] == b['test_rmse'] and b['epochs_run'] == 4 and b['resumed']"
expect_exit 2 "--hidden cannot be combined with --resume" -- "$UNROLL" train --resume split/checkpoint.h5 --hidden 16
echo "resume: all ok"
