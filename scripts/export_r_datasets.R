#!/usr/bin/env Rscript
# SPDX-License-Identifier: Apache-2.0
# What lives here: the one-off export of the `unroll suite` series (apps/cmd_suite.cpp) from R's
# `datasets` package to small CSV files in data/ (header time,value; time is R's time(x): the year, with
# the month or quarter as a fraction; one row per observation). Needs Debian's r-base-core (not in
# scripts/setup.sh: only this export uses it, and its output is committed). Run from anywhere:
#   Rscript scripts/export_r_datasets.R [OUT_DIR]      (default: the data/ folder beside this script)
# and it prints each file's rows and md5, which data/NOTICE.md records.
args <- commandArgs(trailingOnly = TRUE)
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
out <- if (length(args) >= 1) args[1] else file.path(dirname(normalizePath(script)), "..", "data")
series <- list(
  AirPassengers = datasets::AirPassengers,
  co2 = datasets::co2,
  sunspot_month = datasets::sunspot.month,
  lynx = datasets::lynx,
  Nile = datasets::Nile,
  UKDriverDeaths = datasets::UKDriverDeaths,
  UKgas = datasets::UKgas,
  treering = datasets::treering,
  WWWusage = datasets::WWWusage,
  BJsales = datasets::BJsales,
  DAX = datasets::EuStockMarkets[, "DAX"],
  discoveries = datasets::discoveries
)
for (name in names(series)) {
  x <- series[[name]]
  stopifnot(is.ts(x), !anyNA(x), length(x) >= 100)
  file <- file.path(out, paste0(name, ".csv"))
  # 10 significant digits for the time and 15 for the values: every value is written as R holds it.
  d <- data.frame(time = sprintf("%.10g", as.numeric(time(x))),
                  value = sprintf("%.15g", as.numeric(x)))
  write.csv(d, file, row.names = FALSE, quote = FALSE)
  cat(sprintf("%s.csv: %d rows, md5 %s\n", name, length(x), unname(tools::md5sum(file))))
}
