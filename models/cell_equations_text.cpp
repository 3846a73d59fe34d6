// SPDX-License-Identifier: Apache-2.0
// What lives here: tokenize_line, the tokenizer of one line of a cell equation file
// (models/cell_equations_text.h): names, finite numbers, punctuation; a comment ends the line.
#include "models/cell_equations_text.h"

#include <algorithm>

#include "models/cell_equations.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace unroll::cell_equations_text {

namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::vector<Token> tokenize_line(std::string_view line) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    const int column = static_cast<int>(i) + 1;
    if (c == '#') break;
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (is_name_start(c)) {
      size_t j = i;
      while (j < line.size() && is_name_char(line[j])) ++j;
      tokens.push_back({Tok::name, line.substr(i, j - i), column, 0});
      i = j;
    } else if (is_digit(c) || (c == '.' && i + 1 < line.size() && is_digit(line[i + 1]))) {
      size_t j = i;
      while (j < line.size() && (is_digit(line[j]) || line[j] == '.')) ++j;
      if (j < line.size() && (line[j] == 'e' || line[j] == 'E')) {
        size_t k = j + 1;
        if (k < line.size() && (line[k] == '+' || line[k] == '-')) ++k;
        if (k < line.size() && is_digit(line[k])) {
          j = k;
          while (j < line.size() && is_digit(line[j])) ++j;
        }
      }
      const std::string number(line.substr(i, j - i));
      char* end = nullptr;
      const double value = std::strtod(number.c_str(), &end);
      if (end != number.c_str() + number.size() || !std::isfinite(value))
        throw LexError{column, fmt::format("'{}' is not a finite number", number)};
      tokens.push_back({Tok::number, line.substr(i, j - i), column, value});
      i = j;
    } else if (std::string_view("=',()[]+-*/.").find(c) != std::string_view::npos) {
      tokens.push_back({Tok::punct, line.substr(i, 1), column, 0});
      ++i;
    } else {
      throw LexError{column, std::isprint(static_cast<unsigned char>(c))
                                 ? fmt::format("unexpected character '{}'", c)
                                 : fmt::format("unexpected byte 0x{:02x}",
                                               static_cast<unsigned>(static_cast<unsigned char>(c)))};
    }
  }
  tokens.push_back({Tok::end, {}, static_cast<int>(line.size()) + 1, 0});
  return tokens;
}

std::string shown_line(std::string_view text, int line) {
  std::string shown;
  size_t begin = 0;
  for (int l = 1; l < line && begin <= text.size(); ++l) {
    const size_t nl = text.find('\n', begin);
    begin = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
  }
  if (begin <= text.size()) {
    const size_t nl = text.find('\n', begin);
    shown = std::string(text.substr(begin, (nl == std::string_view::npos ? text.size() : nl) - begin));
  }
  for (char& c : shown)  // the shown line stays one printable line
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = ' ';
  if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
  return shown;
}

}  // namespace unroll::cell_equations_text

namespace unroll {

CellEquationError::CellEquationError(const std::string& src, int line_no, int col, const std::string& msg,
                                     const std::string& shown)
    : UsageError(fmt::format("{}:{}:{}: {}\n  {}\n  {}^", src, line_no, col, msg, shown,
                             std::string(static_cast<size_t>(std::max(col - 1, 0)), ' '))),
      source(src),
      message(msg),
      line_text(shown),
      line(line_no),
      column(col) {}

std::string CellEquationError::first_line() const { return fmt::format("{}:{}:{}: {}", source, line, column, message); }

std::string CellEquationError::one_line() const {
  const size_t at = std::min(line_text.size(), static_cast<size_t>(std::max(column - 1, 0)));
  return fmt::format("{}; here: {}^{}", first_line(), line_text.substr(0, at), line_text.substr(at));
}

}  // namespace unroll
