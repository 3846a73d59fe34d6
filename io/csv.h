// What lives here: the CSV time-series reader. A header line is required; columns are picked by name and
// parsed as finite doubles. Input is streamed in fixed-size chunks (memory is the selected columns, not
// the file), in one linear pass: a million rows take well under a second. Handles a UTF-8 BOM, Windows
// (CRLF) line endings, RFC 4180 quoted fields ("a ""b""", embedded commas and newlines), spaces around
// numbers and blank lines at the end of the file. Everything else that is wrong is rejected with a
// DataError naming the file, the line, the column (number and name) and the offending text; a file that
// cannot be opened or read is an IoError.
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace unroll {

struct CsvOptions {
  char delimiter = ',';
};

// The selected columns of a CSV file, in the order they were asked for.
struct CsvTable {
  std::string source;                        // file path (or the name given to parse_csv), used in messages
  std::vector<std::string> header;           // every column name in the file, in file order
  std::vector<std::string> names;            // the selected names
  std::vector<std::vector<double>> columns;  // columns[i][row] belongs to names[i]
  std::vector<int64_t> lines;                // 1-based line on which each data row starts

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

// Only the header of `path` (to list what can be picked). Same errors as read_csv for the first line.
std::vector<std::string> read_csv_header(const std::string& path, const CsvOptions& options = {});

// One column as a vector: read_csv(path, {column}).columns[0].
std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    const CsvOptions& options = {});

}  // namespace unroll
