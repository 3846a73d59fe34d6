// SPDX-License-Identifier: Apache-2.0
// What lives here: parse_bounded_json, the one way JSON text from a file or other untrusted input becomes
// a nlohmann::json. nlohmann's parser is iterative, but much of what follows a parse recurses on the
// nesting depth (dump(), operator==, json::diff, copies, get<>), so 70,000 nested '[' crash the process
// with a stack overflow long after the parse. The text is therefore pre-scanned (brackets outside strings)
// and refused before nlohmann sees it when it nests deeper than JsonBounds::max_depth or is longer than
// max_bytes. Every config unroll writes nests a few levels deep; the bounds leave ample room.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace unroll {

struct JsonBounds {
  int max_depth = 64;                  // arrays/objects inside each other
  size_t max_bytes = size_t{1} << 28;  // 256 MiB
};

// The JSON value in `text`; DataError "<what> is ..." when the text is not valid JSON, nests deeper than
// bounds.max_depth or is longer than bounds.max_bytes (`what` names where the text came from, e.g.
// "run.h5: /model/config").
nlohmann::json parse_bounded_json(std::string_view text, const std::string& what, const JsonBounds& bounds = {});

}  // namespace unroll
