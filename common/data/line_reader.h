// Reads a text file line by line with a bound on the line length, so that a file that is not
// JSONL (one huge line) cannot make the reader allocate without limit.
//
// Threads: one thread per LineReader. Not copyable. Owns its file descriptor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gramrl::checkpoint {
class ReadOnlyFile;
}

namespace gramrl::data {

struct Line {
  int64_t number = 0;  // 1-based
  std::string text;    // without "\n" (and without a final "\r"); empty when too long
  int64_t bytes = 0;   // the line's length in the file, also when too long
  bool too_long = false;
};

class LineReader {
 public:
  // Opens `path`. Throws DataError naming the path and the errno text when it is missing or
  // unreadable, or not a regular file.
  LineReader(const std::string& path, int64_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line, or false at the end of the file. A line longer than max_line_bytes is
  // consumed without being kept: `too_long` is set and `text` is empty. A UTF-8 byte order mark
  // at the start of the file is dropped. Blocks on file I/O. Throws SystemError on a read error.
  bool next(Line* line);

 private:
  bool fill();  // false at the end of the file

  std::unique_ptr<checkpoint::ReadOnlyFile> file_;
  int64_t max_line_bytes_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  uint64_t offset_ = 0;  // file offset of buffer_[end_]
  int64_t line_number_ = 0;
};

}  // namespace gramrl::data
