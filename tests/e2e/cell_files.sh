# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of cells from equations (docs/cells.md): every shipped cells/*.cell
# passes `gradcheck --cell-file`; a run trained with --cell-file keeps the cell's text in its checkpoint,
# so eval, predict, inspect and --resume work after the file is gone, and the resumed run has the straight
# run's bits; bench and graph take --cell-file; a bad cell file is one line naming file:line:column, exit 2.
source "$(dirname "$0")/lib.sh"

for f in "$SRC"/cells/*.cell; do
  "$UNROLL" gradcheck --cell-file "$f" --steps 3 >gradcheck.txt || fail "gradcheck of $f: $(cat gradcheck.txt)"
  grep -q "(equations)" gradcheck.txt || fail "gradcheck does not name the cell file's cell: $(cat gradcheck.txt)"
done

cp "$SRC/cells/cifg.cell" my.cell
"$UNROLL" train "${TINY[@]}" --cell-file my.cell --epochs 2 --out straight
"$UNROLL" train "${TINY[@]}" --cell-file my.cell --epochs 1 --decay-epochs 2 --out split
rm my.cell
"$UNROLL" train --resume split/checkpoint.h5 --epochs 2 --quiet --no-plot
same_params straight/checkpoint.h5 split/checkpoint.h5
"$UNROLL" eval --checkpoint straight/best.h5 >eval.txt
grep -q "cifg (equations)" eval.txt || fail "eval does not name the cell: $(cat eval.txt)"
"$UNROLL" predict --checkpoint straight/best.h5 --out preds.csv
[ -s preds.csv ] || fail "predict wrote nothing"
"$UNROLL" inspect straight/checkpoint.h5 --json >inspect.json
grep -q "sigmoid(o) \* tanh(c')" inspect.json || fail "inspect does not show the cell's equations"

"$UNROLL" bench --cell-file "$SRC/cells/gru.cell" --hidden 8 --seq 4 --batch 4 --steps 2 --warmup 1 >bench.txt
grep -q "cell gru" bench.txt || fail "bench: $(cat bench.txt)"

"$UNROLL" graph --cell-file "$SRC/cells/lstm.cell" --out lstm.dot
grep -q "label=\"sigmoid" lstm.dot || fail "graph: no sigmoid in lstm.dot"
grep -q "cluster" lstm.dot || fail "graph: no module path in lstm.dot"
"$UNROLL" graph --cell gru --steps 1 --backward --out gru.dot
grep -q "label=\"d tanh" gru.dot || fail "graph --backward: no gradient of tanh in gru.dot"
if command -v dot >/dev/null; then
  "$UNROLL" graph --cell lstm --out lstm.svg
  grep -q "<svg" lstm.svg || fail "graph: lstm.svg is not SVG"
fi

printf 'cell bad\nstate h\ngates a\nh'"'"' = sigmod(a)\n' >bad.cell
for cmd in "train ${TINY[*]} --epochs 1 --out bad_run" "gradcheck" "bench" "graph --out bad.dot"; do
  # shellcheck disable=SC2086
  expect_exit 2 "bad.cell:4:6: unknown symbol 'sigmod'" -- "$UNROLL" $cmd --cell-file bad.cell
done
grep -qF "here: h' = ^sigmod(a)" "$WORK/err.txt" || fail "no caret in: $(cat "$WORK/err.txt")"
expect_exit 2 "missing.cell: not a readable cell file" -- "$UNROLL" gradcheck --cell-file missing.cell
expect_exit 2 "--cell excludes --cell-file" -- "$UNROLL" gradcheck --cell lstm --cell-file "$SRC/cells/lstm.cell"
expect_exit 2 "graph: --out must end in .dot, .svg or .png" -- "$UNROLL" graph --cell lstm --out x.pdf
echo "cell_files: all ok"
