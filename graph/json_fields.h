// SPDX-License-Identifier: Apache-2.0
// What lives here: JsonFields, the one reader every config's from_json uses, so a bad config JSON always
// fails the same way, with DataError naming the field:
//   not an object  "<what>: expected a JSON object, got <json>"
//   unknown key    "<what>: unknown key '<key>' (hint: known keys are <k1>, <k2>, ...)"
//   wrong type     "<what>: '<key>' must be <a number | an integer | an integer >= N | true or false |
//                  a string>, got <value>"
//   missing        "<what>: key '<key>' is missing or not <type> in <json>[ <missing_hint>]" (required fields)
// Optional fields keep the caller's default when absent. Integers must be JSON integers that fit the
// field's type (1.5 is not a valid `layers`). Only nlohmann and graph/check.h, so every folder from
// models/ up (and io/) can use it without reaching above its layer.
#pragma once
#include <cstdint>
#include <fmt/ranges.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "graph/check.h"

namespace unroll {

class JsonFields {
 public:
  // Checks that j is an object whose keys are all in `known`.
  JsonFields(const nlohmann::json& j, std::string what, std::vector<std::string> known, std::string missing_hint = {})
      : j_(j), what_(std::move(what)), known_(std::move(known)), missing_hint_(std::move(missing_hint)) {
    UNROLL_CHECK(j_.is_object(), DataError, "{}: expected a JSON object, got {}", what_, j_.dump());
    for (const auto& item : j_.items()) {
      bool found = false;
      for (const std::string& k : known_) found = found || k == item.key();
      UNROLL_CHECK(found, DataError, "{}: unknown key '{}' (hint: known keys are {})", what_, item.key(),
                   fmt::join(known_, ", "));
    }
  }

  bool has(const char* key) const { return j_.contains(key); }
  const nlohmann::json& json() const { return j_; }

  // Optional field: out unchanged when absent; DataError when present with the wrong type.
  template <class T>
  void read(const char* key, T& out) const {
    if (!has(key)) return;
    const nlohmann::json& v = j_[key];
    UNROLL_CHECK(fits<T>(v), DataError, "{}: '{}' must be {}, got {}", what_, key, type_name<T>(), v.dump());
    out = v.get<T>();
  }

  // Optional integer field that must also be >= min.
  template <class T>
  void read_at_least(const char* key, T& out, T min) const {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    if (!has(key)) return;
    const nlohmann::json& v = j_[key];
    UNROLL_CHECK(fits<T>(v) && v.get<T>() >= min, DataError, "{}: '{}' must be an integer >= {}, got {}", what_, key,
                 min, v.dump());
    out = v.get<T>();
  }

  // Required field: DataError when absent or of the wrong type.
  template <class T>
  T require(const char* key) const {
    UNROLL_CHECK(has(key) && fits<T>(j_[key]), DataError, "{}: key '{}' is missing or not {} in {}{}", what_, key,
                 type_name<T>(), j_.dump(), missing_hint_.empty() ? "" : " " + missing_hint_);
    return j_[key].get<T>();
  }

 private:
  template <class T>
  static bool fits(const nlohmann::json& v) {
    if constexpr (std::is_same_v<T, nlohmann::json>) {
      return true;
    } else if constexpr (std::is_same_v<T, bool>) {
      return v.is_boolean();
    } else if constexpr (std::is_same_v<T, std::string>) {
      return v.is_string();
    } else if constexpr (std::is_floating_point_v<T>) {
      return v.is_number();
    } else {
      static_assert(std::is_integral_v<T>);
      if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
      if (!v.is_number_integer()) return false;
      const int64_t x = v.get<int64_t>();
      if constexpr (std::is_unsigned_v<T>) return x >= 0 && static_cast<uint64_t>(x) <= std::numeric_limits<T>::max();
      else return x >= std::numeric_limits<T>::min() && x <= std::numeric_limits<T>::max();
    }
  }

  template <class T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, nlohmann::json>) return "any JSON value";
    else if constexpr (std::is_same_v<T, bool>) return "true or false";
    else if constexpr (std::is_same_v<T, std::string>) return "a string";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_unsigned_v<T>) return "an integer >= 0";
    else return "an integer";
  }

  const nlohmann::json& j_;
  std::string what_;
  std::vector<std::string> known_;
  std::string missing_hint_;
};

}  // namespace unroll
