// SPDX-License-Identifier: Apache-2.0
// What lives here: the streaming CSV reader behind io/csv.h: a chunked byte source, a one-pass record
// tokenizer (a small state machine over characters, no backtracking), and strict number parsing.
#include "io/csv.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "graph/check.h"

namespace unroll {

namespace {

constexpr size_t kChunk = 1 << 16;

// Shows untrusted text in a message: printable ASCII as is, other bytes as \xNN, at most 40 characters.
std::string quoted_excerpt(std::string_view text) {
  std::string out;
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown == 40) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++shown;
  }
  return out;
}

// Bytes from a stream or from memory, one chunk at a time.
class ByteSource {
 public:
  explicit ByteSource(std::string_view text) : cur_(text.data()), end_(text.data() + text.size()) {}
  ByteSource(std::istream& in, const std::string& source, int64_t max_bytes)
      : in_(&in), source_(&source), buffer_(kChunk), max_bytes_(max_bytes) {}

  // -1 at the end of input.
  int get() {
    if (cur_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*cur_++);
  }
  int peek() {
    if (cur_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*cur_);
  }

 private:
  bool refill() {
    if (in_ == nullptr) return false;
    in_->read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    const std::streamsize got = in_->gcount();
    UNROLL_CHECK(!in_->bad(), IoError, "csv '{}': reading failed ({}) (hint: check the disk and the file)", *source_,
                 std::strerror(errno));
    read_ += got;
    hash_ = fnv1a(buffer_.data(), static_cast<size_t>(got), hash_);
    UNROLL_CHECK(read_ <= max_bytes_, DataError,
                 "csv '{}': more than {} bytes; refused (hint: is it a CSV file? the limit is CsvOptions::max_bytes)",
                 *source_, max_bytes_);
    cur_ = buffer_.data();
    end_ = cur_ + got;
    return got > 0;
  }

  const char* cur_ = nullptr;
  const char* end_ = nullptr;
  std::istream* in_ = nullptr;
  const std::string* source_ = nullptr;
  std::vector<char> buffer_;
  int64_t max_bytes_ = 0, read_ = 0;
  uint64_t hash_ = kFnv1aOffset;

 public:
  int64_t bytes_read() const { return read_; }
  uint64_t hash() const { return hash_; }
};

// Splits the input into records. Fields whose index is not marked `keep` are scanned but not stored.
class RecordReader {
 public:
  RecordReader(ByteSource& bytes, const std::string& source, const CsvOptions& options)
      : bytes_(bytes), source_(source), delim_(options.delimiter), max_record_bytes_(options.max_record_bytes) {}

  struct Record {
    std::vector<std::string> fields;  // only the kept ones hold text
    std::vector<char> quoted;
    int64_t count = 0;   // number of fields
    int64_t line = 0;    // line the record starts on
    bool blank = false;  // an empty line
  };

  // Keeps every field when `keep` is empty.
  void set_keep(std::vector<char> keep) { keep_ = std::move(keep); }

  // False at the end of input (no record read).
  bool next(Record& rec) {
    if (at_start_) {
      at_start_ = false;
      skip_bom();
    }
    int c = bytes_.peek();
    if (c == -1) return false;
    rec.count = 0;
    rec.line = line_;
    rec.blank = false;
    begin_field(rec);
    enum class State { field_start, unquoted, quoted, after_quote } state = State::field_start;
    std::string* text = field_text(rec);
    bool any_char = false;
    int64_t record_bytes = 0;
    while (true) {
      c = bytes_.get();
      UNROLL_CHECK(++record_bytes <= max_record_bytes_, DataError,
                   "csv '{}' line {}: the record is longer than {} bytes; refused (hint: is it a CSV file? the limit "
                   "is CsvOptions::max_record_bytes)",
                   source_, rec.line, max_record_bytes_);
      if (c == -1) {
        UNROLL_CHECK(state != State::quoted, DataError,
                     "csv '{}' line {}, column {}: a quoted field is never closed (hint: write a quote inside a quoted "
                     "field as \"\")",
                     source_, quote_line_, rec.count);
        break;
      }
      if (state == State::quoted) {
        if (c == '"') {
          if (bytes_.peek() == '"') {
            bytes_.get();
            if (text) text->push_back('"');
          } else {
            state = State::after_quote;
          }
        } else {
          if (c == '\n') ++line_;
          if (text) text->push_back(static_cast<char>(c));
        }
        continue;
      }
      if (c == '\r') {
        if (bytes_.peek() == '\n') bytes_.get();
        c = '\n';
      }
      if (c == '\n') {
        ++line_;
        break;
      }
      if (c == delim_) {
        begin_field(rec);
        text = field_text(rec);
        state = State::field_start;
        any_char = true;
        continue;
      }
      any_char = true;
      if (state == State::field_start) {
        if (c == '"') {
          state = State::quoted;
          quote_line_ = line_;
          rec.quoted[static_cast<size_t>(rec.count - 1)] = 1;
          continue;
        }
        state = State::unquoted;
      }
      if (state == State::after_quote) {
        UNROLL_CHECK(c == ' ' || c == '\t', DataError,
                     "csv '{}' line {}, column {}: unexpected '{}' after a closing quote (hint: a quoted field ends at "
                     "its closing quote; write a quote inside it as \"\")",
                     source_, line_, rec.count, quoted_excerpt(std::string(1, static_cast<char>(c))));
        continue;
      }
      if (text) text->push_back(static_cast<char>(c));
    }
    rec.blank = !any_char && rec.count == 1 && !rec.quoted[0];
    return true;
  }

 private:
  void skip_bom() {
    // A UTF-8 byte order mark is the three bytes EF BB BF. ByteSource cannot unget, so bytes of an
    // incomplete mark are kept and become the start of the first header field (a malformed name).
    const int mark[3] = {0xEF, 0xBB, 0xBF};
    for (int m : mark) {
      if (bytes_.peek() != m) return;
      bom_partial_.push_back(static_cast<char>(bytes_.get()));
    }
    bom_partial_.clear();
  }

  void begin_field(Record& rec) {
    const size_t i = static_cast<size_t>(rec.count++);
    if (rec.fields.size() <= i) {
      rec.fields.emplace_back();
      rec.quoted.push_back(0);
    }
    rec.fields[i].clear();
    rec.quoted[i] = 0;
    if (i == 0 && !bom_partial_.empty()) {  // bytes of an incomplete BOM stay part of the first field
      rec.fields[0] = bom_partial_;
      bom_partial_.clear();
    }
  }
  std::string* field_text(Record& rec) {
    const size_t i = static_cast<size_t>(rec.count - 1);
    if (!keep_.empty() && (i >= keep_.size() || !keep_[i])) return nullptr;
    return &rec.fields[i];
  }

  ByteSource& bytes_;
  const std::string& source_;
  char delim_;
  int64_t max_record_bytes_;
  int64_t line_ = 1;
  int64_t quote_line_ = 1;
  bool at_start_ = true;
  std::string bom_partial_;
  std::vector<char> keep_;
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

struct CellRef {
  const std::string& source;
  int64_t line;
  int64_t column;  // 1-based
  const std::string& name;
};

double parse_number(std::string_view raw, const CellRef& at) {
  std::string_view s = raw;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  UNROLL_CHECK(!s.empty(), DataError,
               "csv '{}' line {}, column {} '{}': the value is missing (hint: fill or remove gaps before training; "
               "unroll does not interpolate)",
               at.source, at.line, at.column, at.name);
  std::string_view digits = s;
  if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-' && digits[1] != '+') digits.remove_prefix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  const bool whole = ptr == digits.data() + digits.size();
  if (ec == std::errc::result_out_of_range && whole) {
    // Overflow is not finite; underflow is a tiny finite number (0 or subnormal): strtod tells them apart.
    value = std::strtod(std::string(digits).c_str(), nullptr);
  } else {
    UNROLL_CHECK(ec == std::errc() && whole, DataError,
                 "csv '{}' line {}, column {} '{}': '{}' is not a number (hint: write plain decimal numbers such as "
                 "41.5 or -2e-3; check the delimiter and the column)",
                 at.source, at.line, at.column, at.name, quoted_excerpt(s));
  }
  UNROLL_CHECK(std::isfinite(value), DataError,
               "csv '{}' line {}, column {} '{}': '{}' is not finite (hint: NaN and infinite values cannot be trained "
               "on; fill or remove them)",
               at.source, at.line, at.column, at.name, quoted_excerpt(s));
  return value;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += quoted_excerpt(names[i]);
  }
  return out;
}

std::vector<std::string> parse_header(RecordReader& reader, RecordReader::Record& rec, const std::string& source,
                                      char delimiter) {
  UNROLL_CHECK(reader.next(rec), DataError,
               "csv '{}': the file is empty (hint: the first line must be a header naming the columns, e.g. "
               "time{}value)",
               source, delimiter);
  UNROLL_CHECK(!rec.blank, DataError,
               "csv '{}' line 1: the header line is empty (hint: the first line must name the columns, e.g. "
               "time{}value)",
               source, delimiter);
  std::vector<std::string> header;
  header.reserve(static_cast<size_t>(rec.count));
  for (int64_t i = 0; i < rec.count; ++i) {
    std::string name = rec.fields[static_cast<size_t>(i)];
    if (!rec.quoted[static_cast<size_t>(i)]) {  // unquoted names lose surrounding spaces
      size_t b = 0, e = name.size();
      while (b < e && is_space(name[b])) ++b;
      while (e > b && is_space(name[e - 1])) --e;
      name = name.substr(b, e - b);
    }
    for (size_t j = 0; j < header.size(); ++j) {
      UNROLL_CHECK(name.empty() || header[j] != name, DataError,
                   "csv '{}' line {}: column name '{}' appears twice (columns {} and {}; hint: rename one so columns "
                   "can be picked by name)",
                   source, rec.line, quoted_excerpt(name), j + 1, i + 1);
    }
    header.push_back(std::move(name));
  }
  return header;
}

CsvTable read_records(ByteSource& bytes, const std::string& source, const std::vector<std::string>& columns,
                      const CsvOptions& options) {
  UNROLL_CHECK(options.delimiter != '"' && options.delimiter != '\n' && options.delimiter != '\r', UsageError,
               "csv '{}': the delimiter cannot be a quote or a line break (hint: use ',', ';' or a tab)", source);
  RecordReader reader(bytes, source, options);
  RecordReader::Record rec;
  CsvTable table;
  table.source = source;
  table.header = parse_header(reader, rec, source, options.delimiter);

  // Which file columns are selected, and where each goes.
  std::vector<size_t> file_index;  // per selected name
  if (columns.empty()) {
    table.names = table.header;
    for (size_t i = 0; i < table.header.size(); ++i) file_index.push_back(i);
  } else {
    for (size_t k = 0; k < columns.size(); ++k) {
      for (size_t j = 0; j < k; ++j) {
        UNROLL_CHECK(columns[j] != columns[k], UsageError,
                     "csv '{}': column '{}' was asked for twice (hint: name each column once)", source,
                     quoted_excerpt(columns[k]));
      }
      size_t found = table.header.size();
      for (size_t i = 0; i < table.header.size(); ++i) {
        if (table.header[i] == columns[k]) found = i;
      }
      UNROLL_CHECK(found < table.header.size(), DataError,
                   "csv '{}': no column named '{}' (available: {}; hint: names are case-sensitive)", source,
                   quoted_excerpt(columns[k]), join_names(table.header));
      file_index.push_back(found);
      table.names.push_back(columns[k]);
    }
  }
  std::vector<char> keep(table.header.size(), 0);
  for (size_t i : file_index) keep[i] = 1;
  reader.set_keep(std::move(keep));
  table.columns.assign(file_index.size(), {});

  const int64_t width = static_cast<int64_t>(table.header.size());
  int64_t pending_blank = 0;  // line of a blank line not yet known to be trailing
  while (reader.next(rec)) {
    if (rec.blank) {
      if (pending_blank == 0) pending_blank = rec.line;
      continue;
    }
    UNROLL_CHECK(pending_blank == 0, DataError,
                 "csv '{}' line {}: the line is empty but more data follows on line {} (hint: remove blank lines; a "
                 "gap in a series must be filled, not skipped)",
                 source, pending_blank, rec.line);
    UNROLL_CHECK(rec.count == width, DataError,
                 "csv '{}' line {}: {} fields but the header has {} (hint: every row needs one value per column; look "
                 "for a missing or extra '{}')",
                 source, rec.line, rec.count, width, options.delimiter);
    for (size_t k = 0; k < file_index.size(); ++k) {
      const size_t i = file_index[k];
      table.columns[k].push_back(
          parse_number(rec.fields[i], CellRef{source, rec.line, static_cast<int64_t>(i) + 1, table.header[i]}));
    }
    table.lines.push_back(rec.line);
  }
  UNROLL_CHECK(table.rows() > 0, DataError,
               "csv '{}': no data rows after the header (hint: add at least one line of values below the header)",
               source);
  return table;
}

}  // namespace

uint64_t fnv1a(const char* bytes, size_t n, uint64_t hash) {
  for (size_t i = 0; i < n; ++i) {
    hash ^= static_cast<unsigned char>(bytes[i]);
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string fnv1a_hex(uint64_t hash) { return fmt::format("{:016x}", hash); }

const std::vector<double>& CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return columns[i];
  }
  throw UsageError(fmt::format("csv '{}': column '{}' was not selected (selected: {}; hint: pass it to read_csv)",
                               source, quoted_excerpt(name), join_names(names)));
}

CsvTable read_csv(std::istream& in, const std::string& source, const std::vector<std::string>& columns,
                  const CsvOptions& options) {
  ByteSource bytes(in, source, options.max_bytes);
  CsvTable table = read_records(bytes, source, columns, options);
  while (bytes.get() != -1) {  // the identity covers every byte, also blank lines after the last record
  }
  table.bytes = bytes.bytes_read();
  table.content_hash = bytes.hash();
  return table;
}

CsvTable parse_csv(std::string_view text, const std::string& source, const std::vector<std::string>& columns,
                   const CsvOptions& options) {
  ByteSource bytes(text);
  return read_records(bytes, source, columns, options);
}

namespace {
std::ifstream open_csv(const std::string& path) {
  std::error_code ec;
  UNROLL_CHECK(!std::filesystem::is_directory(path, ec), IoError,
               "csv '{}': cannot open the file (it is a directory) (hint: pass the path of a .csv file)", path);
  const auto type = std::filesystem::status(path, ec).type();
  // Only regular files: a FIFO or device could block or never end, and a run reads its data more than once
  // (the header, the history choice, the content hash checked on resume).
  UNROLL_CHECK(ec || type == std::filesystem::file_type::regular, IoError,
               "csv '{}': not a regular file (a FIFO, device or socket); refused (hint: save the data to a .csv "
               "file and pass its path)",
               path);
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  UNROLL_CHECK(in.is_open(), IoError, "csv '{}': cannot open the file ({}) (hint: check the path and permissions)",
               path, errno ? std::strerror(errno) : "unknown error");
  return in;
}
}  // namespace

CsvTable read_csv(const std::string& path, const std::vector<std::string>& columns, const CsvOptions& options) {
  std::ifstream in = open_csv(path);
  return read_csv(in, path, columns, options);
}

std::vector<std::string> read_csv_header(const std::string& path, const CsvOptions& options) {
  std::ifstream in = open_csv(path);
  ByteSource bytes(in, path, options.max_bytes);
  RecordReader reader(bytes, path, options);
  RecordReader::Record rec;
  return parse_header(reader, rec, path, options.delimiter);
}

std::vector<double> read_csv_column(const std::string& path, const std::string& column, const CsvOptions& options) {
  return std::move(read_csv(path, {column}, options).columns[0]);
}

}  // namespace unroll
