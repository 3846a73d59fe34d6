# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end tests of `unroll experiment memory`, `unroll gradflow` and `unroll probe` on
# tiny grids (a few seconds), and their bad inputs (exit 2, one line).
source "$(dirname "$0")/lib.sh"
"$UNROLL" experiment memory --cells rnn,lstm --gaps 4,6 --seeds 2 --steps 20 --hidden 4 --check-every 10 --out m >m.txt
[[ -s m/memory.md && -s m/memory.json ]] || fail "memory outputs missing"
grep -q "| cell | gap 4 | gap 6 |" m/memory.md || fail "table header: $(cat m/memory.md)"
[[ $(grep -c '^| \(rnn_tanh\|lstm\) |' m/memory.md) -eq 2 ]] || fail "expected 2 table rows: $(cat m/memory.md)"
/usr/bin/python3 -c "
import json; r = json.load(open('m/memory.json'))
assert len(r['runs']) == 8 and len(r['summary']) == 4, r
assert abs(r['chance_loss'] - 1/6) < 1e-9 and all(0 <= s['solved_fraction'] <= 1 for s in r['summary'])
assert all(1 <= x['steps'] <= 20 for x in r['runs'])"
"$UNROLL" experiment memory --task copy --cells gru --gaps 3 --seeds 1 --steps 10 --hidden 4 --recall 2 --out c >c.txt
/usr/bin/python3 -c "
import json, math; r = json.load(open('c/memory.json'))
assert r['metric'] == 'accuracy' and abs(r['chance_loss'] - math.log(8)) < 1e-9 and len(r['runs']) == 1, r"
expect_exit 2 "already holds the outputs of an earlier run" -- "$UNROLL" experiment memory --cells rnn --gaps 4 --seeds 1 --steps 2 --out m
"$UNROLL" experiment memory --cells rnn --gaps 4 --seeds 1 --steps 2 --hidden 2 --out m --overwrite >/dev/null

"$UNROLL" gradflow --cell rnn,lstm,cifg --steps 12 --hidden 4 --out g >g.txt
/usr/bin/python3 -c "
import json; r = json.load(open('g/gradflow.json'))
cells = {c['cell']: c for c in r['cells']}
assert set(cells) == {'rnn_tanh', 'lstm', 'cifg'}, cells.keys()
assert len(cells['rnn_tanh']['norms']['h']) == 12 and len(cells['lstm']['norms']['c']) == 12
assert all(v > 0 for c in cells.values() for v in c['norms']['h'])"
"$UNROLL" gradflow --cell gru --steps 6 --hidden 4 --train 20 --out gt >gt.txt
/usr/bin/python3 -c "
import json; r = json.load(open('gt/gradflow.json')); c = r['cells'][0]
assert c['cell'] == 'gru' and 'trained' in c['label'] and c['label'].startswith('gru (') and len(c['norms']['h']) == 6, c"

"$UNROLL" train "${TINY[@]}" --epochs 1 --model gru --out run >/dev/null
/usr/bin/python3 -c "
import json; r = json.load(open('run/report.json'))
g = {x['gate']: x for x in r['saturation']['gates']}
assert set(g) == {'l0/reset', 'l0/update', 'l0/candidate'}, g.keys()
assert len(g['l0/reset']['low']) == 8 and 0 <= g['l0/update']['mean_high'] <= 1"
"$UNROLL" probe --checkpoint run/best.h5 --batch 16 --out probe.json >probe.txt
grep -q "l0/candidate" probe.txt || fail "probe table: $(cat probe.txt)"
/usr/bin/python3 -c "import json; r = json.load(open('probe.json')); assert r['sequences'] == 16 and r['steps'] == 8, r"
"$UNROLL" gradflow --checkpoint run/best.h5 --steps 20 --batch 4 --out gc >/dev/null
/usr/bin/python3 -c "import json; r = json.load(open('gc/gradflow.json')); assert len(r['cells'][0]['norms']['h']) == 20, r"

expect_exit 2 "unknown experiment 'speed'" -- "$UNROLL" experiment speed
expect_exit 2 "unknown cell 'nosuch'" -- "$UNROLL" experiment memory --cells nosuch
expect_exit 2 "gap (the sequence length) must be at least 2" -- "$UNROLL" experiment memory --gaps 1
expect_exit 2 "--task" -- "$UNROLL" experiment memory --task sorting
expect_exit 2 "GiB per step" -- "$UNROLL" experiment memory --gaps 10000 --batch 4096 --hidden 1024
expect_exit 2 "--seeds" -- "$UNROLL" experiment memory --seeds 0
expect_exit 2 "unknown cell 'nosuch'" -- "$UNROLL" gradflow --cell nosuch
expect_exit 2 "a --checkpoint brings its own" -- "$UNROLL" gradflow --checkpoint run/best.h5 --cell lstm
expect_exit 2 "a --checkpoint brings its own" -- "$UNROLL" gradflow --checkpoint run/best.h5 --train 5
expect_exit 2 "missing.h5" -- "$UNROLL" gradflow --checkpoint missing.h5 --out g2
expect_exit 2 "missing.h5" -- "$UNROLL" probe --checkpoint missing.h5
expect_exit 2 "--steps" -- "$UNROLL" gradflow --steps 0
expect_exit 2 "GiB (limit 8" -- "$UNROLL" gradflow --steps 100000 --batch 4096
echo "memory: all ok"
