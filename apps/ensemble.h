// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll train --ensemble K`: K member runs (seeds S..S+K-1), each a complete `unroll train`
// run in OUT/members/seed_N run in-process through run_main, then their test forecasts averaged into
// OUT/report.json and OUT/forecast.csv (Note [Ensemble] in apps/ensemble.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace unroll::cli {

inline constexpr int kMaxEnsemble = 64;

// A new ensemble: member_args are the train options every member gets (without --seed, --out,
// --overwrite, --quiet, --ensemble); members are seeds seed..seed+k-1. Returns the exit code.
int run_ensemble(const std::vector<std::string>& member_args, int k, uint64_t seed, const std::string& out,
                 bool overwrite, bool quiet);
// The options given to `train` (name and values, as on the command line) that every member repeats: all
// but --ensemble, --seed, --out, --overwrite and --quiet.
std::vector<std::string> ensemble_member_args(const CLI::App& sub);
// True when dir is an ensemble folder (holds ensemble.json).
bool is_ensemble_folder(const std::string& dir);
// `unroll train --resume OUT` on an ensemble folder: finished members are kept, interrupted ones resumed
// from their checkpoint.h5, missing ones started; then the ensemble report is written again.
int resume_ensemble(const std::string& out, bool quiet);

}  // namespace unroll::cli
