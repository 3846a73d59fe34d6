// SPDX-License-Identifier: Apache-2.0
// What lives here: parse_bounded_json (graph/json_bounds.h): a linear pre-scan of the nesting depth
// outside strings, then nlohmann's parser.
#include "graph/json_bounds.h"

#include "graph/check.h"

namespace unroll {

nlohmann::json parse_bounded_json(std::string_view text, const std::string& what, const JsonBounds& bounds) {
  UNROLL_CHECK(text.size() <= bounds.max_bytes, DataError, "{} is {} bytes of JSON, more than the {} allowed",
               what, text.size(), bounds.max_bytes);
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      UNROLL_CHECK(++depth <= bounds.max_depth, DataError,
                   "{} is JSON nested deeper than {} levels (at byte {}); refused (hint: the file was crafted or "
                   "damaged)",
                   what, bounds.max_depth, i);
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced text is the parser's to report
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{} is not valid JSON: {}", what, e.what()));
  }
}

}  // namespace unroll
