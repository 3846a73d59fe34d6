// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of the CSV reader (io/csv.h): good files in their variants (BOM, CRLF, quotes,
// blank trailing lines, chunk boundaries, a million rows) and every rejected input with its exact message.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "graph/check.h"
#include "io/csv.h"

using namespace unroll;

namespace {

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::path(UNROLL_BINARY_DIR) / "test_tmp" / "csv";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

CsvTable parse(const std::string& text, const std::vector<std::string>& columns = {}) {
  return parse_csv(text, "m.csv", columns);
}

}  // namespace

TEST_CASE("csv: header, columns picked by name in the asked order, all columns by default") {
  const std::string text = "year,month,temp_F\n1920,1,40.6\n1920,2,40.8\n1920,3,44.4\n";
  CsvTable t = parse(text, {"temp_F", "year"});
  CHECK(t.source == "m.csv");
  CHECK(t.header == std::vector<std::string>{"year", "month", "temp_F"});
  CHECK(t.names == std::vector<std::string>{"temp_F", "year"});
  REQUIRE(t.rows() == 3);
  CHECK(t.column("temp_F") == std::vector<double>{40.6, 40.8, 44.4});
  CHECK(t.column("year") == std::vector<double>{1920, 1920, 1920});
  CHECK(t.lines == std::vector<int64_t>{2, 3, 4});
  CHECK_THROWS_WITH_AS(t.column("month"),
                       "csv 'm.csv': column 'month' was not selected (selected: temp_F, year; hint: pass it to "
                       "read_csv)",
                       UsageError);

  CsvTable all = parse(text);
  CHECK(all.names == all.header);
  CHECK(all.columns[1] == std::vector<double>{1, 2, 3});
}

TEST_CASE("csv: BOM, CRLF, quoted fields, spaces, signs and exponents, trailing blank lines") {
  // Quoted header names, an escaped quote and an embedded newline in a column that is not numeric but
  // not selected either, a quoted number, a '+' sign, an exponent, spaces around values, no final newline
  // after the blank lines.
  const std::string text =
      "\xEF\xBB\xBF\"time\",\"note\", value \r\n"
      "1,\"a, \"\"quoted\"\" note\",  +1.5 \r\n"
      "2,\"two\r\nlines\",\"-2e-3\"\r\n"
      "3,plain,7\r\n"
      "\r\n"
      "\r\n";
  CsvTable t = parse(text, {"value", "time"});
  CHECK(t.header == std::vector<std::string>{"time", "note", "value"});
  CHECK(t.column("value") == std::vector<double>{1.5, -2e-3, 7});
  CHECK(t.column("time") == std::vector<double>{1, 2, 3});
  CHECK(t.lines == std::vector<int64_t>{2, 3, 5});  // the record on line 3 spans two lines

  // Quoted text is kept verbatim when selected (it just is not a number).
  CHECK_THROWS_WITH_AS(parse(text, {"note"}),
                       "csv 'm.csv' line 2, column 2 'note': 'a, \"quoted\" note' is not a number (hint: write plain "
                       "decimal numbers such as 41.5 or -2e-3; check the delimiter and the column)",
                       DataError);
  // An underflowing value is a tiny finite number, not an error.
  CHECK(parse("v\n1e-400\n").columns[0][0] == doctest::Approx(0.0));
  // Lone CR line endings (old Mac) and a semicolon delimiter.
  CsvOptions semi;
  semi.delimiter = ';';
  CsvTable s = parse_csv("a;b\r1;2\r3;4", "s.csv", {"b"}, semi);
  CHECK(s.columns[0] == std::vector<double>{2, 4});
}

TEST_CASE("csv: empty inputs and headers are rejected with the file name") {
  CHECK_THROWS_WITH_AS(parse(""),
                       "csv 'm.csv': the file is empty (hint: the first line must be a header naming the columns, e.g. "
                       "time,value)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse("\xEF\xBB\xBF"), doctest::Contains("csv 'm.csv': the file is empty"), DataError);
  CHECK_THROWS_WITH_AS(parse("\n1,2\n"),
                       "csv 'm.csv' line 1: the header line is empty (hint: the first line must name the columns, e.g. "
                       "time,value)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse("time,value\n\n\n"),
                       "csv 'm.csv': no data rows after the header (hint: add at least one line of values below the "
                       "header)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse("time,value,time\n1,2,3\n"),
                       "csv 'm.csv' line 1: column name 'time' appears twice (columns 1 and 3; hint: rename one so "
                       "columns can be picked by name)",
                       DataError);
}

TEST_CASE("csv: unknown or repeated column names") {
  const std::string text = "year,month,temp_F\n1920,1,40.6\n";
  CHECK_THROWS_WITH_AS(parse(text, {"temp"}),
                       "csv 'm.csv': no column named 'temp' (available: year, month, temp_F; hint: names are "
                       "case-sensitive)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(text, {"year", "year"}),
                       "csv 'm.csv': column 'year' was asked for twice (hint: name each column once)", UsageError);
}

TEST_CASE("csv: bad cells name the file, line, column and text") {
  const std::string head = "time,value\n1,2\n";
  CHECK_THROWS_WITH_AS(parse(head + "2,abc\n"),
                       "csv 'm.csv' line 3, column 2 'value': 'abc' is not a number (hint: write plain decimal numbers "
                       "such as 41.5 or -2e-3; check the delimiter and the column)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,\n"),
                       "csv 'm.csv' line 3, column 2 'value': the value is missing (hint: fill or remove gaps before "
                       "training; unroll does not interpolate)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "  ,5\n"), doctest::Contains("line 3, column 1 'time': the value is missing"),
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,NaN\n"),
                       "csv 'm.csv' line 3, column 2 'value': 'NaN' is not finite (hint: NaN and infinite values "
                       "cannot be trained on; fill or remove them)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,-inf\n"), doctest::Contains("line 3, column 2 'value': '-inf' is not finite"),
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,1e999\n"), doctest::Contains("line 3, column 2 'value': '1e999' is not finite"),
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,1.5.2\n"), doctest::Contains("'1.5.2' is not a number"), DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,0x10\n"), doctest::Contains("'0x10' is not a number"), DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,++1\n"), doctest::Contains("'++1' is not a number"), DataError);
  // Control bytes and long text are shown escaped and cut.
  CHECK_THROWS_WITH_AS(parse(head + std::string("2,a\x01\xff") + std::string(60, 'x') + "\n"),
                       doctest::Contains(("'a\\x01\\xff" + std::string(37, 'x') + "...' is not a number").c_str()), DataError);
  // Text in a column that is not selected is fine.
  CHECK(parse(head + "2,abc\n", {"time"}).rows() == 2);
}

TEST_CASE("csv: ragged rows, gaps, and broken quotes") {
  const std::string head = "time,value\n1,2\n";
  CHECK_THROWS_WITH_AS(parse(head + "2\n"),
                       "csv 'm.csv' line 3: 1 fields but the header has 2 (hint: every row needs one value per column; "
                       "look for a missing or extra ',')",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,3,\n"), doctest::Contains("line 3: 3 fields but the header has 2"), DataError);
  CHECK_THROWS_WITH_AS(parse(head + "\n3,4\n"),
                       "csv 'm.csv' line 3: the line is empty but more data follows on line 4 (hint: remove blank "
                       "lines; a gap in a series must be filled, not skipped)",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,\"3\n4,5\n"),
                       "csv 'm.csv' line 3, column 2: a quoted field is never closed (hint: write a quote inside a "
                       "quoted field as \"\")",
                       DataError);
  CHECK_THROWS_WITH_AS(parse(head + "2,\"3\"x\n"),
                       "csv 'm.csv' line 3, column 2: unexpected 'x' after a closing quote (hint: a quoted field ends "
                       "at its closing quote; write a quote inside it as \"\")",
                       DataError);
}

TEST_CASE("csv: files that cannot be read are IoErrors naming the path") {
  const std::string missing = temp_path("does_not_exist.csv");
  std::filesystem::remove(missing);
  CHECK_THROWS_WITH_AS(read_csv(missing, {"value"}),
                       ("csv '" + missing +
                        "': cannot open the file (No such file or directory) (hint: check the path and permissions)")
                           .c_str(),
                       IoError);
  const std::string dir = temp_path("a_directory.csv");
  std::filesystem::create_directories(dir);
  CHECK_THROWS_WITH_AS(read_csv(dir),
                       ("csv '" + dir + "': cannot open the file (it is a directory) (hint: pass the path of a .csv "
                                        "file)")
                           .c_str(),
                       IoError);
  // Errors from a real file name the real path.
  const std::string bad = write_file("bad_cell.csv", "t,v\r\n1,2\r\n2,x\r\n");
  CHECK_THROWS_WITH_AS(read_csv_column(bad, "v"), doctest::Contains(("csv '" + bad + "' line 3, column 2 'v': 'x'").c_str()),
                       DataError);
  CHECK(read_csv_header(bad) == std::vector<std::string>{"t", "v"});
}

TEST_CASE("csv: streaming across chunk boundaries gives the same table as one buffer") {
  // Rows of CRLF text with a padding column whose width moves every CR, LF, quote and delimiter across the
  // 64 KiB chunk boundary of the stream reader at some point.
  for (int pad = 0; pad < 12; ++pad) {
    std::string text = "pad,\"value\"\r\n";
    int64_t row = 0;
    while (text.size() < (1u << 16) + 200) {
      text += '"';
      text.append(static_cast<size_t>(pad + row % 7), 'p');
      text += "\",";
      text += std::to_string(row);
      text += ".25\r\n";
      ++row;
    }
    std::istringstream stream(text);
    CsvTable streamed = read_csv(stream, "stream.csv", {"value"});
    CsvTable whole = parse_csv(text, "whole.csv", {"value"});
    REQUIRE(streamed.rows() == row);
    CHECK(streamed.columns == whole.columns);
    CHECK(streamed.lines == whole.lines);
    CHECK(streamed.columns[0].back() == static_cast<double>(row - 1) + 0.25);
  }
}

TEST_CASE("csv: a million rows from a file") {
  constexpr int64_t kRows = 1000000;
  std::string text = "index,value,label\n";
  text.reserve(static_cast<size_t>(kRows) * 24);
  for (int64_t i = 0; i < kRows; ++i) {
    text += std::to_string(i);
    text += ',';
    text += std::to_string(i % 1000);
    text += ".5,x\n";
  }
  const std::string path = write_file("million.csv", text);
  CsvTable t = read_csv(path, {"value", "index"});
  REQUIRE(t.rows() == kRows);
  CHECK(t.lines.back() == kRows + 1);
  CHECK(t.column("index")[static_cast<size_t>(kRows - 1)] == static_cast<double>(kRows - 1));
  const double sum = std::accumulate(t.column("value").begin(), t.column("value").end(), 0.0);
  CHECK(sum == doctest::Approx(1000.0 * (499.5 * 1000 + 0.5 * 1000)));
  std::filesystem::remove(path);
}

TEST_CASE("csv: input that never ends is bounded: devices refused, whole input and one record capped") {
  CHECK_THROWS_WITH_AS(read_csv("/dev/zero", {"v"}),
                       "csv '/dev/zero': not a regular file (a FIFO, device or socket); refused (hint: save the data "
                       "to a .csv file and pass its path)",
                       IoError);
  std::istringstream zeros(std::string(3 << 20, '\0'));
  CHECK_THROWS_WITH_AS(read_csv(zeros, "zeros", {"v"}),
                       "csv 'zeros' line 1: the record is longer than 1048576 bytes; refused (hint: is it a CSV file? the "
                       "limit is CsvOptions::max_record_bytes)",
                       DataError);
  std::string rows = "v\n";
  for (int i = 0; i < 100000; ++i) rows += "1\n";
  std::istringstream many(rows);
  CsvOptions small;
  small.max_bytes = 100000;
  CHECK_THROWS_WITH_AS(read_csv(many, "many", {"v"}, small),
                       "csv 'many': more than 100000 bytes; refused (hint: is it a CSV file? the limit is "
                       "CsvOptions::max_bytes)",
                       DataError);
  std::istringstream fits(rows);
  CHECK(read_csv(fits, "fits", {"v"}).rows() == 100000);
}

TEST_CASE("csv: the bytes and FNV-1a hash of a file identify its content (the data identity of a run)") {
  const std::string path = temp_path("identity.csv");
  { std::ofstream(path, std::ios::binary) << "t,v\n0,1.5\n1,2.5\n"; }
  const CsvTable a = read_csv(path, {"v"});
  CHECK(a.bytes == 16);
  CHECK(fnv1a_hex(a.content_hash) == fnv1a_hex(fnv1a("t,v\n0,1.5\n1,2.5\n", 16)));
  CHECK(fnv1a_hex(fnv1a("", 0)) == "cbf29ce484222325");  // the FNV-1a 64 offset basis
  CHECK(fnv1a_hex(fnv1a("a", 1)) == "af63dc4c8601ec8c");  // the published test vector
  { std::ofstream(path, std::ios::binary | std::ios::app) << "2,3.5\n"; }
  const CsvTable b = read_csv(path, {"v"});
  CHECK(b.bytes == 22);
  CHECK(b.content_hash != a.content_hash);
}
