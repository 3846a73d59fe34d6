// SPDX-License-Identifier: Apache-2.0
// What lives here: unroll's typed exceptions and the one fmt-based CHECK macro every layer uses.
// Messages name the op (or file, or checkpoint path), the shapes/dtypes involved, and a hint.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace unroll {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ShapeError : Error { using Error::Error; };    // incompatible or invalid shapes
struct DTypeError : Error { using Error::Error; };    // float32/float64 mixed, or wrong type asked
struct UsageError : Error { using Error::Error; };    // API misuse: stale handle, backward twice, ...
struct NumericError : Error { using Error::Error; };  // NaN/Inf found where it must not be
struct IoError : Error { using Error::Error; };       // files: HDF5, CSV, checkpoints
struct DataError : Error { using Error::Error; };     // bad data content (CSV cells, configs)

}  // namespace unroll

// UNROLL_CHECK(cond, ErrorType, "fmt {}", args...): throw ErrorType with the formatted message.
#define UNROLL_CHECK(cond, ErrorType, ...)                 \
  do {                                                     \
    if (!(cond)) throw ErrorType(fmt::format(__VA_ARGS__)); \
  } while (0)
