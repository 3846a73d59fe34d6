# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: a reduced sweep grid writes the Markdown table, JSON and data for the plot.
source "$(dirname "$0")/lib.sh"
"$UNROLL" sweep --cells 4,6 --histories 2,4 --horizons 1,2 --seeds 2 --epochs 1 --length 1200 --out sw >sweep.txt
[[ -s sw/sweep.md && -s sw/sweep.json ]] || fail "sweep outputs missing"
[[ $(grep -c '^| [0-9]' sw/sweep.md) -eq 4 ]] || fail "expected 4 table rows: $(cat sw/sweep.md)"
grep -q "4 cells | 6 cells | persistence | AR(history)" sw/sweep.md || fail "table header: $(cat sw/sweep.md)"
/usr/bin/python3 -c "import json; r = json.load(open('sw/sweep.json')); assert len(r['rows']) == 8 and all(len(x['rmse']) == 2 for x in r['rows'])"
echo "sweep: all ok"
