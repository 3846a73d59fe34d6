// SPDX-License-Identifier: Apache-2.0
// What lives here: the numeric option validators and the parse-error formatter of apps/option_checks.h.
// A validator's message is "<value>: <what is wrong>"; describe_parse_error turns CLI11's
// "<option>: <value>: ..." into "<command> <option> <value>: ...".
#include "apps/option_checks.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace unroll::cli {

namespace {

// A hostile value must not make a long line: show at most 40 characters of it.
std::string shown(const std::string& text) {
  if (text.empty()) return "''";
  std::string s = text.size() > 40 ? text.substr(0, 37) + "..." : text;
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

template <class T>
bool parse_whole(std::string text, T& out, bool& out_of_range) {
  out_of_range = false;
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) {
    out_of_range = true;
    return true;
  }
  return ec == std::errc() && end == text.data() + text.size();
}

std::string integer_rule(const std::string& lo, const std::string& hi, bool unbounded) {
  return unbounded ? fmt::format("an integer >= {}", lo) : fmt::format("an integer from {} to {}", lo, hi);
}

}  // namespace

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  const std::string rule = integer_rule(std::to_string(lo), std::to_string(hi), hi == std::numeric_limits<int64_t>::max());
  return CLI::Validator(
      [lo, hi, rule](std::string& text) -> std::string {
        int64_t v = 0;
        bool out_of_range = false;
        if (!parse_whole(text, v, out_of_range)) return fmt::format("{}: not an integer (must be {})", shown(text), rule);
        if (out_of_range || v < lo || v > hi) return fmt::format("{}: must be {}", shown(text), rule);
        return {};
      },
      hi == std::numeric_limits<int64_t>::max() ? fmt::format(">={}", lo) : fmt::format("{}..{}", lo, hi));
}

CLI::Validator unsigned_in(uint64_t lo, uint64_t hi) {
  const std::string rule = integer_rule(std::to_string(lo), std::to_string(hi), false);
  return CLI::Validator(
      [lo, hi, rule](std::string& text) -> std::string {
        if (!text.empty() && text[0] == '-') {  // strtoull would wrap "-1" to 2^64 - 1
          int64_t negative = 0;
          bool out_of_range = false;
          if (!parse_whole(text, negative, out_of_range))
            return fmt::format("{}: not an integer (must be {})", shown(text), rule);
          return fmt::format("{}: must be {}", shown(text), rule);
        }
        uint64_t v = 0;
        bool out_of_range = false;
        if (!parse_whole(text, v, out_of_range)) return fmt::format("{}: not an integer (must be {})", shown(text), rule);
        if (out_of_range || v < lo || v > hi) return fmt::format("{}: must be {}", shown(text), rule);
        return {};
      },
      fmt::format("{}..{}", lo, hi));
}

CLI::Validator number_in(double lo, double hi, bool lo_open, bool hi_open) {
  std::string rule;
  if (std::isinf(hi)) rule = fmt::format("a number {} {}", lo_open ? ">" : ">=", lo);
  else if (!lo_open && !hi_open) rule = fmt::format("a number from {} to {}", lo, hi);
  else rule = fmt::format("a number {} {} and {} {}", lo_open ? ">" : ">=", lo, hi_open ? "<" : "<=", hi);
  return CLI::Validator(
      [lo, hi, lo_open, hi_open, rule](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double v = text.empty() || std::isspace(static_cast<unsigned char>(text[0])) ? NAN : std::strtod(begin, &end);
        if (end == nullptr || end == begin || *end != '\0')
          return fmt::format("{}: not a number (must be {})", shown(text), rule);
        const bool inside = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
        if (!inside) return fmt::format("{}: must be {}", shown(text), rule);
        return {};
      },
      rule.substr(9));  // "a number >= 0" -> ">= 0" in --help
}

CLI::Validator number_at_least(double lo, bool open) {
  return number_in(lo, std::numeric_limits<double>::infinity(), open, false);
}

CLI::Validator one_of(std::vector<std::string> names) {
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return CLI::Validator(
      [names, list](std::string& text) -> std::string {
        for (const std::string& n : names)
          if (text == n) return {};
        return fmt::format("{}: must be one of {}", shown(text), list);
      },
      "{" + list + "}");
}

CLI::Validator true_or_false() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        for (const char* ok : {"true", "false", "1", "0", "yes", "no", "on", "off"})
          if (text == ok) return {};
        return fmt::format("{}: must be true or false", shown(text));
      },
      "true|false");
}

std::string describe_parse_error(const CLI::ParseError& e, const std::string& command) {
  std::string what = e.what();
  const std::string prefix = command.empty() ? "" : command + " ";
  const auto first = what.find(": ");
  if (dynamic_cast<const CLI::ValidationError*>(&e) != nullptr && first != std::string::npos &&
      what.find(": ", first + 2) != std::string::npos)
    return prefix + what.substr(0, first) + " " + what.substr(first + 2);  // "--hidden: 0: must" -> "--hidden 0: must"
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr && first != std::string::npos) {
    const std::string name = what.substr(0, first), rest = what.substr(first + 2);
    const auto received = rest.rfind("received ");
    if (rest.rfind("At Most 1 required", 0) == 0 && received != std::string::npos)
      return fmt::format("{}{}: given {} times (give it once)", prefix, name, rest.substr(received + 9));
    if (rest.find("required") != std::string::npos && rest.find("missing") != std::string::npos)
      return fmt::format("{}{}: needs a value", prefix, name);
  }
  return command.empty() ? what : command + ": " + what;
}

}  // namespace unroll::cli
