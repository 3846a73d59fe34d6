# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of Note [Data identity] (apps/run_config.cpp, issue 22 item 9): a run on
# a relative --data path resumes from another directory; a CSV that gained rows is refused on resume and
# on eval; a moved file is found beside the checkpoint or given with --data (same hash), and a different
# file given with --data is refused.
source "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c "
import math
print('t,volts')
for i in range(300): print('%d,%.5f' % (i, math.sin(i / 7.0)))" >series.csv
T=(--hidden 4 --history 4 --batch 32 --quiet --no-plot)

mkdir -p work && cd work
"$UNROLL" train --data ../series.csv --column volts "${T[@]}" --epochs 1 --out ../run
cd "$WORK"
/usr/bin/python3 -c "
import json, os, subprocess
out = subprocess.run(['$UNROLL', 'inspect', '--json', 'run/checkpoint.h5'], capture_output=True, text=True, check=True).stdout
data = json.loads(out)['run']['data']
assert data['file'] == os.path.abspath('series.csv'), data['file']
assert len(data['file_hash']) == 16 and data['file_bytes'] == os.path.getsize('series.csv'), data"

# Resume from another directory: the recorded absolute path is found.
mkdir -p elsewhere && (cd elsewhere && "$UNROLL" train --resume ../run/checkpoint.h5 --epochs 2 --quiet --no-plot)

# Appended rows: refused, naming both sizes.
cp series.csv original.csv
echo "300,0.5" >>series.csv
expect_exit 2 "the data changed since the run started" -- "$UNROLL" train --resume run/checkpoint.h5 --epochs 3 --quiet --no-plot
grep -qF "$(stat -c %s series.csv) bytes" err.txt || fail "no size named: $(cat err.txt)"
expect_exit 2 "the data changed since the run started" -- "$UNROLL" eval --checkpoint run/checkpoint.h5 --json
cp original.csv series.csv

# Moved beside the checkpoint: found by its name.
mv series.csv run/series.csv
"$UNROLL" train --resume run/checkpoint.h5 --epochs 3 --quiet --no-plot 2>err.txt
grep -qF "not found at $WORK/series.csv" err.txt || fail "no note about the moved file: $(cat err.txt)"

# Moved elsewhere: --data points at it (same hash accepted), a different file is refused.
mkdir -p moved && mv run/series.csv moved/renamed.csv
expect_exit 2 "series.csv" -- "$UNROLL" train --resume run/checkpoint.h5 --epochs 4 --quiet --no-plot
"$UNROLL" train --resume run/checkpoint.h5 --data moved/renamed.csv --epochs 4 --quiet --no-plot
{ cat moved/renamed.csv; echo "300,0.5"; } >other.csv
expect_exit 2 "the data changed since the run started" -- "$UNROLL" train --resume run/checkpoint.h5 --data other.csv --epochs 5 --quiet --no-plot
echo "data identity: all ok"
