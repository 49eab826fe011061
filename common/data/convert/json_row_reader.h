// Rows of a data set file as `datasets` writes it: JSONL (one object per line, `to_json(path)`)
// or one JSON array of objects (`to_json(path, lines=False)`, also how several data sets ship
// their raw files). The format is found from the first byte that is not whitespace. Rows are
// streamed: memory is bounded by max_row_bytes whatever the file's size.
//
// Threads: one thread per reader. Not copyable. Owns its file.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

namespace gramrl::data {
class LineReader;
}

namespace gramrl::data::convert {

struct RowText {
  std::string text;    // the row's JSON text; empty when too long
  std::string source;  // "path:line" (JSONL) or "path:line (row N)" (array: N counts from 1)
  bool too_long = false;
};

class JsonRowReader {
 public:
  // Throws DataError when the file is missing, unreadable or a directory.
  JsonRowReader(const std::string& path, int64_t max_row_bytes);
  ~JsonRowReader();
  JsonRowReader(const JsonRowReader&) = delete;
  JsonRowReader& operator=(const JsonRowReader&) = delete;

  bool isArray() const { return array_; }

  // The next row, or false at the end. A row longer than max_row_bytes is consumed without being
  // kept (too_long). Blank JSONL lines are skipped. Throws DataError naming path:line when a
  // JSON array is malformed between its elements (a missing comma, text after the closing
  // bracket, an unterminated array).
  bool next(RowText* row);

 private:
  int get();  // the next byte or -1 at the end; counts lines
  [[noreturn]] void failAt(const std::string& what) const;

  std::string path_;
  int64_t max_row_bytes_;
  bool array_ = false;
  std::unique_ptr<LineReader> lines_;  // JSONL
  std::ifstream in_;                   // array
  std::string buffer_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  int64_t rows_ = 0;
  bool finished_ = false;
};

}  // namespace gramrl::data::convert
