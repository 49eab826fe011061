// Rows of a data set file as `datasets` writes it: JSONL (one object per line, `to_json(path)`)
// or one JSON array of objects (`to_json(path, lines=False)`, also how several data sets ship
// their raw files). The format is found from the first byte that is not whitespace. Rows are
// streamed: memory is bounded by max_row_bytes whatever the file's size.
//
// NOTE [Piped input]
// The input is read once, front to back, through one descriptor, and the bytes read to find the
// format are the first bytes of the first row: nothing is re-opened or re-read. So a pipe
// (`cat uf.jsonl | gramrl data convert ... - out.jsonl`, or /dev/stdin, or a FIFO from
// `<(zcat uf.jsonl.gz)`) converts exactly as the file would. An earlier version peeked at the
// first 1 MiB through one stream, then re-opened the path for JSONL: on a pipe the peeked bytes
// cannot be read again, and the line reader (pread, so regular files only) refused it, so piped
// JSONL failed ("/dev/stdin is not a regular file") while a redirected file worked.
// The path "-" is standard input, named "stdin" in messages.
//
// Threads: one thread per reader. Not copyable. Owns its file descriptor (not standard input's).
#pragma once

#include <cstdint>
#include <string>

namespace gramrl::data::convert {

struct RowText {
  std::string text;    // the row's JSON text; empty when too long
  std::string source;  // "path:line" (JSONL) or "path:line (row N)" (array: N counts from 1)
  bool too_long = false;
};

class JsonRowReader {
 public:
  // `path` "-" reads standard input. Throws DataError when the file is missing, unreadable or a
  // directory.
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
  bool fill();  // reads the next chunk into buffer_; false at the end of the input
  int get();    // the next byte or -1 at the end; counts lines
  bool nextLine(RowText* row);
  void keep(RowText* row, const char* bytes, size_t size) const;  // appends within max_row_bytes
  [[noreturn]] void failAt(const std::string& what) const;

  std::string path_;  // as named in messages ("stdin" for "-")
  int fd_ = -1;
  bool owns_fd_ = false;
  int64_t max_row_bytes_;
  bool array_ = false;
  std::string buffer_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  int64_t rows_ = 0;
  bool finished_ = false;
};

}  // namespace gramrl::data::convert
