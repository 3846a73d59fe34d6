#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: regenerates the tables of docs/forecasting.md (and docs/suite.png) from `unroll suite`
# at its defaults: the whole suite with seed 1, and nottem with seeds 1-5. Each table replaces the text
# between its markers (<!-- suite:NAME:begin --> ... <!-- suite:NAME:end -->); the prose around them is
# written by hand. Takes about 10 minutes on the 2-core build machine.
#   scripts/forecasting_doc.sh [UNROLL] [OUT]   (defaults: build/apps/unroll, runs/forecasting)
set -euo pipefail
cd "$(dirname "$0")/.."
unroll="${1:-build/apps/unroll}"
out="${2:-runs/forecasting}"
"$unroll" suite --out "$out/all" --overwrite
"$unroll" suite --series nottem --seeds 5 --out "$out/nottem" --overwrite
cp "$out/all/suite.png" docs/suite.png
/usr/bin/python3 - docs/forecasting.md "all=$out/all/suite.md" "nottem=$out/nottem/suite.md" <<'PY'
import sys
doc_path, pairs = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
doc = open(doc_path).read()
for name, md in pairs:
    begin, end = "<!-- suite:%s:begin -->\n" % name, "<!-- suite:%s:end -->" % name
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        sys.exit("forecasting_doc: %s has no markers for %s" % (doc_path, name))
    doc = doc[: i + len(begin)] + open(md).read().rstrip("\n") + "\n" + doc[j:]
open(doc_path, "w").write(doc)
print("forecasting_doc: updated", doc_path, "and docs/suite.png")
PY
