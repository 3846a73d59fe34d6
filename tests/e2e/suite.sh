# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test: `unroll suite` on two of its series (two seeds, 2 epochs each: a quick
# check, not the defaults) writes the table, JSON and plot data, runs each series as `unroll train` does
# (a run folder with report.json per series and seed), refuses a used --out unless --overwrite, and names
# an unknown series in one line.
source "$(dirname "$0")/lib.sh"
"$UNROLL" suite --series WWWusage,nottem --seeds 2 --epochs 2 --out s >suite.txt
[[ -s s/suite.md && -s s/suite.json && -s s/suite.dat ]] || fail "suite outputs missing: $(ls s)"
[[ $(grep -c '^| WWWusage \|^| nottem ' s/suite.md) -eq 2 ]] || fail "expected 2 table rows: $(cat s/suite.md)"
grep -q "| series | values | model | persistence | AR(history) | AR(p) val-chosen | seasonal-naive | best baseline" s/suite.md ||
  fail "table header: $(cat s/suite.md)"
grep -q "Every run with --epochs 2 (not the defaults)" s/suite.md || fail "the table must say it is not the defaults"
for run in WWWusage_s1 WWWusage_s2 nottem_s1 nottem_s2; do
  [[ -s s/runs/$run/report.json && -s s/runs/$run/best.h5 ]] || fail "run folder $run incomplete: $(ls s/runs/$run)"
done
/usr/bin/python3 - <<'PY'
import json
s = json.load(open("s/suite.json"))
assert s["seeds"] == 2 and s["epochs"] == 2 and [r["series"] for r in s["rows"]] == ["WWWusage", "nottem"], s
for row in s["rows"]:
    reports = [json.load(open("s/runs/%s_s%d/report.json" % (row["series"], k))) for k in (1, 2)]
    assert [r["test_rmse"] for r in reports] == [x["test_rmse"] for x in row["runs"]], row["series"]
    assert [r["config"]["trainer"]["seed"] for r in reports] == [1, 2]
    assert all(r["epochs_run"] == 2 for r in reports)
    best = reports[0]["baselines"]["best"]["rmse"]
    assert row["baselines"]["best"]["rmse"] == best
    assert row["verdict"] == ("better" if row["test_rmse_mean"] < best else "NOT better")
    assert row["wins"] == sum(r["test_rmse"] < best for r in reports)
# The CSV series ran as `train --data F --column value`: the history was chosen on validation.
w = json.load(open("s/runs/WWWusage_s1/report.json"))
assert w["config"]["data"]["dataset"] == "csv" and w["config"]["auto_history"] and "history" in w["config"]["choices"]
n = json.load(open("s/runs/nottem_s1/report.json"))
assert n["config"]["data"]["dataset"] == "nottem"
PY
expect_exit 2 "suite: --out s already holds the outputs of an earlier run" -- "$UNROLL" suite --series WWWusage --epochs 1 --out s
"$UNROLL" suite --series WWWusage --epochs 1 --out s --overwrite >again.txt
[[ ! -e s/runs/nottem_s1 ]] || fail "--overwrite kept the earlier suite's runs"
expect_exit 2 "suite: unknown series 'wwwusage' (known: magnet, nottem, AirPassengers" -- "$UNROLL" suite --series wwwusage
mkdir empty
expect_exit 2 "suite: empty/WWWusage.csv is missing" -- "$UNROLL" suite --series WWWusage --data-dir empty --out s2
echo "suite: all ok"
