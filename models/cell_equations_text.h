// SPDX-License-Identifier: Apache-2.0
// What lives here: the text side of the cell equation format (Note [Cell equations] in
// models/cell_equations.h) for its parser (models/cell_equations.cpp): the tokens of one line, and the
// line an error shows.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace unroll::cell_equations_text {

enum class Tok : uint8_t { name, number, punct, end };

struct Token {
  Tok kind = Tok::end;
  std::string_view text;  // a view into the line
  int column = 0;         // 1-based byte column
  double value = 0;       // Tok::number
};

// A character or number the format does not have, at a 1-based column.
struct LexError {
  int column;
  std::string message;
};

// The tokens of one line, a comment (# ...) dropped, ending with a Tok::end token; throws LexError.
std::vector<Token> tokenize_line(std::string_view line);

// Line `line` (1-based) of `text` as one printable line for an error: control bytes and non-ASCII as
// spaces, cut at 200 characters; "" past the end.
std::string shown_line(std::string_view text, int line);

}  // namespace unroll::cell_equations_text
