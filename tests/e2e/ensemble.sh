# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: `unroll train --ensemble 3 --seed 4` trains members with seeds 4, 5, 6 as
# complete runs in OUT/members/seed_N (member 4 is bit-identical to a plain --seed 4 run); the ensemble's
# RMSE is the RMSE of the mean of the members' forecast.csv predictions (recomputed here) and the spread
# numbers are the members' own; the same command gives the same bits; --resume OUT keeps finished members
# and redoes the missing ones, also after SIGINT stopped a member (exit 130, a resume hint); K outside 1..64, --ensemble with --resume and a planted, deeply nested member report are
# one-line errors (exit 2).
source "$(dirname "$0")/lib.sh"
ARGS=(--dataset nottem --hidden 8 --epochs 3 --no-plot --quiet)
"$UNROLL" train "${ARGS[@]}" --ensemble 3 --seed 4 --out e
for s in 4 5 6; do
  [[ -s e/members/seed_$s/report.json && -s e/members/seed_$s/best.h5 && -s e/members/seed_$s/forecast.csv ]] ||
    fail "member seed_$s incomplete: $(ls e/members/seed_$s)"
done
[[ ! -e e/members/seed_7 && -s e/report.json && -s e/forecast.csv && -s e/ensemble.json ]] || fail "ensemble folder: $(ls e e/members)"
"$UNROLL" train "${ARGS[@]}" --seed 4 --out single
cmp -s single/forecast.csv e/members/seed_4/forecast.csv || fail "member seed 4 differs from a plain --seed 4 run"
/usr/bin/python3 - <<'PY'
import csv, json, math, statistics
def rows(path):
    return list(csv.DictReader(open(path)))
r = json.load(open("e/report.json"))
ens = r["ensemble"]
assert ens["members"] == 3 and ens["seeds"] == [4, 5, 6], ens
members = [rows("e/members/seed_%d/forecast.csv" % s) for s in (4, 5, 6)]
reports = [json.load(open("e/members/seed_%d/report.json" % s)) for s in (4, 5, 6)]
assert [m["config"]["trainer"]["seed"] for m in reports] == [4, 5, 6]
sc = r["scaler"]
assert sc["kind"] == "min_max", sc
f = lambda x: (x - sc["min"]) / (sc["max"] - sc["min"])
mean = [sum(float(m[i]["prediction"]) for m in members) / 3 for i in range(len(members[0]))]
target = [float(x["target"]) for x in members[0]]
rmse = math.sqrt(sum((f(p) - f(t)) ** 2 for p, t in zip(mean, target)) / len(mean))
assert abs(rmse - r["test_rmse"]) < 1e-12 and ens["test_rmse"] == r["test_rmse"], (rmse, r["test_rmse"])
out = rows("e/forecast.csv")
assert [x["index"] for x in out] == [x["index"] for x in members[0]]
assert all(abs(float(x["prediction"]) - p) <= 1e-7 * abs(p) for x, p in zip(out, mean))
single = [m["test_rmse"] for m in reports]
assert ens["member_test_rmse"] == single
assert abs(ens["member_mean"] - statistics.mean(single)) < 1e-15 and abs(ens["member_std"] - statistics.stdev(single)) < 1e-12
assert ens["member_min"] == min(single) and ens["member_max"] == max(single)
best = reports[0]["baselines"]["best"]["rmse"]
assert ens["verdict"] == ("better" if r["test_rmse"] < best else "NOT better")
assert ens["members_better_than_best_baseline"] == sum(x < best for x in single)
PY
# The same command, the same bits.
"$UNROLL" train "${ARGS[@]}" --ensemble 3 --seed 4 --out e2
cmp -s e/forecast.csv e2/forecast.csv || fail "same seed, different ensemble forecast"
# A used --out is refused; resume keeps finished members and redoes the others.
expect_exit 2 "train: --out e already holds" -- "$UNROLL" train "${ARGS[@]}" --ensemble 3 --seed 4 --out e
cp e/forecast.csv full.csv
rm -r e2/members/seed_6 e2/members/seed_5/report.json e2/report.json
"$UNROLL" train --resume e2 >resumed.txt
grep -q "member seed 4: finished earlier, kept" resumed.txt || fail "resume: $(cat resumed.txt)"
cmp -s full.csv e2/forecast.csv || fail "a resumed ensemble differs from the straight one"
# SIGINT during member 2: the ensemble stops with the member's code and a resume hint; resuming gives the
# straight run's bits.
LONG=(--dataset nottem --hidden 32 --epochs 40 --no-plot --quiet --ensemble 2 --seed 1)
"$UNROLL" train "${LONG[@]}" --out straight
"$UNROLL" train "${LONG[@]}" --out stopped 2>err.txt &
pid=$!
for _ in $(seq 1 600); do [[ -e stopped/members/seed_2/checkpoint.h5 ]] && break; sleep 0.05; done
kill -s INT "$pid" || true
set +e
wait "$pid"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "SIGINT: expected exit 130, got $rc: $(cat err.txt)"
grep -q "resume the ensemble with: unroll train --resume stopped" err.txt || fail "no resume hint: $(cat err.txt)"
"$UNROLL" train --resume stopped --quiet
cmp -s straight/forecast.csv stopped/forecast.csv || fail "the resumed ensemble differs from the straight one"
# A member's report.json replaced by 100,000 nested '[' (a planted file): one line, exit 2, no stack overflow.
cp -r e planted
/usr/bin/python3 -c "open('planted/members/seed_5/report.json', 'w').write('[' * 100000)"
expect_exit 2 "is JSON nested deeper than 64 levels" -- "$UNROLL" train --resume planted
# Bad K and --ensemble with --resume: one line, exit 2.
expect_exit 2 "train --ensemble 0: must be an integer from 1 to 64" -- "$UNROLL" train --ensemble 0 --out x
expect_exit 2 "train --ensemble 65: must be an integer from 1 to 64" -- "$UNROLL" train --ensemble 65 --out x
expect_exit 2 "train: --ensemble cannot be combined with --resume" -- "$UNROLL" train --resume e --ensemble 2
expect_exit 2 "train: --resume of an ensemble folder takes no --epochs" -- "$UNROLL" train --resume e --epochs 5
echo ok
