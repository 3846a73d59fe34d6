// SPDX-License-Identifier: Apache-2.0
// What lives here: the one way every numeric command-line option is checked, and the one formatter of
// CLI11's parse errors. An option error is one short line naming the option, the value and what is
// allowed in words, e.g.
//   unroll: train --hidden 0: must be an integer from 1 to 65536
//   unroll: train --lr abc: not a number (must be a number >= 0)
//   unroll: train --lr: given 2 times (give it once)
// The checks read the text before CLI11 converts it, so "-1" or "99999999999999999999999" never wraps
// into an unsigned option, and nan/inf are refused wherever a range is finite.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace unroll::cli {

// A whole number in [lo, hi] (signed text; a leading '+' is accepted, spaces and fractions are not).
CLI::Validator integer_in(int64_t lo, int64_t hi);
// A whole number in [lo, hi] for unsigned options (seeds): "-1" is refused, not wrapped.
CLI::Validator unsigned_in(uint64_t lo, uint64_t hi = std::numeric_limits<uint64_t>::max());
// A finite number in [lo, hi]; lo_open/hi_open make that end exclusive (e.g. --dropout in [0, 1)).
CLI::Validator number_in(double lo, double hi, bool lo_open = false, bool hi_open = false);
// A finite number >= lo (> lo when open).
CLI::Validator number_at_least(double lo, bool open = false);

// One of `names` (the listed spellings only).
CLI::Validator one_of(std::vector<std::string> names);
// true/false (also 1/0, yes/no, on/off, as CLI11 reads them).
CLI::Validator true_or_false();

// The one line (without "unroll: ") for a CLI11 parse error; `command` is the subcommand being parsed
// ("" when none).
std::string describe_parse_error(const CLI::ParseError& e, const std::string& command);

}  // namespace unroll::cli
