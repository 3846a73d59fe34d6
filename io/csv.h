// SPDX-License-Identifier: Apache-2.0
// What lives here: the CSV time-series reader. A header line is required; columns are picked by name and
// parsed as finite doubles. Input is streamed in fixed-size chunks (memory is the selected columns, not
// the file), in one linear pass: a million rows take well under a second. Handles a UTF-8 BOM, Windows
// (CRLF) line endings, RFC 4180 quoted fields ("a ""b""", embedded commas and newlines), spaces around
// numbers and blank lines at the end of the file. Everything else that is wrong is rejected with a
// DataError naming the file, the line, the column (number and name) and the offending text; a file that
// cannot be opened or read, or is not a regular file or a FIFO, is an IoError; one longer than
// CsvOptions::max_bytes (or a record longer than max_record_bytes) is a DataError.
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace unroll {

// Bounds on what is read, so a device or a FIFO that never ends (/dev/zero, /dev/urandom) fails with a
// DataError instead of reading forever. Character and block devices and sockets are refused outright.
struct CsvOptions {
  char delimiter = ',';
  int64_t max_bytes = int64_t{4} << 30;   // 4 GiB: the whole input
  int64_t max_record_bytes = 1 << 20;     // 1 MiB: one record (line, or lines of a quoted field)
};

// The selected columns of a CSV file, in the order they were asked for.
struct CsvTable {
  std::string source;                        // file path (or the name given to parse_csv), used in messages
  std::vector<std::string> header;           // every column name in the file, in file order
  std::vector<std::string> names;            // the selected names
  std::vector<std::vector<double>> columns;  // columns[i][row] belongs to names[i]
  std::vector<int64_t> lines;                // 1-based line on which each data row starts
  int64_t bytes = 0;                         // bytes read from a file or stream (0 for parse_csv)
  uint64_t content_hash = 0;                 // FNV-1a 64 of those bytes: the data's identity (fnv1a_hex)

  int64_t rows() const { return static_cast<int64_t>(lines.size()); }
  // The values of one selected column; throws UsageError listing the selected names when absent.
  const std::vector<double>& column(const std::string& name) const;
};

// Reads `path` and returns the named columns (all columns when `columns` is empty). Throws IoError when
// the file cannot be opened or read, DataError for bad content, UsageError when a name is asked twice.
CsvTable read_csv(const std::string& path, const std::vector<std::string>& columns = {},
                  const CsvOptions& options = {});

// The same parser over a stream or over text in memory; `source` names the input in messages.
CsvTable read_csv(std::istream& in, const std::string& source, const std::vector<std::string>& columns = {},
                  const CsvOptions& options = {});
CsvTable parse_csv(std::string_view text, const std::string& source, const std::vector<std::string>& columns = {},
                   const CsvOptions& options = {});

// FNV-1a (64-bit) of `bytes`, continuing from `hash` (start: kFnv1aOffset); as 16 hex digits.
inline constexpr uint64_t kFnv1aOffset = 14695981039346656037ull;
uint64_t fnv1a(const char* bytes, size_t n, uint64_t hash = kFnv1aOffset);
std::string fnv1a_hex(uint64_t hash);

// Only the header of `path` (to list what can be picked). Same errors as read_csv for the first line.
std::vector<std::string> read_csv_header(const std::string& path, const CsvOptions& options = {});

// One column as a vector: read_csv(path, {column}).columns[0].
std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    const CsvOptions& options = {});

}  // namespace unroll
