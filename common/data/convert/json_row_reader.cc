#include "common/data/convert/json_row_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/core/errors.h"
#include "common/data/json_line.h"

namespace gramrl::data::convert {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

bool isSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

JsonRowReader::JsonRowReader(const std::string& path, int64_t max_row_bytes)
    : path_(path == "-" ? "stdin" : path), max_row_bytes_(max_row_bytes) {
  // One descriptor for the whole read (NOTE [Piped input]).
  if (path == "-") {
    fd_ = STDIN_FILENO;
  } else {
    checkInputFile(path, "data convert");
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    GRAMRL_CHECK(fd_ >= 0, DataError, "{}: cannot open: {}", path, std::strerror(errno));
    owns_fd_ = true;
  }
  // Skip a UTF-8 byte order mark and whitespace to see whether this is an array.
  int c = get();
  if (c == 0xEF) {
    const int b = get(), d = get();
    GRAMRL_CHECK(b == 0xBB && d == 0xBF, DataError, "{}:1: not JSON or JSONL (starts with byte 0xEF)", path_);
    c = get();
  }
  while (isSpace(c)) c = get();
  array_ = c == '[';
  if (c == -1) {
    finished_ = true;
  } else if (!array_) {
    --pos_;  // the row's first byte: JSONL rows are read from here, through the same buffer
  }
}

JsonRowReader::~JsonRowReader() {
  if (owns_fd_) ::close(fd_);
}

bool JsonRowReader::fill() {
  buffer_.resize(kChunkBytes);
  for (;;) {
    const ssize_t got = ::read(fd_, buffer_.data(), buffer_.size());
    if (got < 0 && errno == EINTR) continue;
    GRAMRL_CHECK(got >= 0, SystemError, "{}: read failed: {}", path_, std::strerror(errno));
    buffer_.resize(static_cast<size_t>(got));
    pos_ = 0;
    return got > 0;
  }
}

int JsonRowReader::get() {
  if (pos_ == buffer_.size() && !fill()) return -1;
  const int c = static_cast<unsigned char>(buffer_[pos_++]);
  if (c == '\n') ++line_;
  return c;
}

void JsonRowReader::keep(RowText* row, const char* bytes, size_t size) const {
  if (row->too_long) return;
  // One extra byte for a JSONL line's "\r", which nextLine strips.
  if (static_cast<int64_t>(row->text.size() + size) > max_row_bytes_ + (array_ ? 0 : 1)) {
    row->too_long = true;
    row->text.clear();
    row->text.shrink_to_fit();
    return;
  }
  row->text.append(bytes, size);
}

bool JsonRowReader::nextLine(RowText* row) {
  while (!finished_) {
    row->text.clear();
    row->too_long = false;
    const int64_t number = line_;
    bool any = false, newline = false;
    while (!newline) {
      if (pos_ == buffer_.size() && !fill()) {
        finished_ = true;
        break;
      }
      const char* start = buffer_.data() + pos_;
      const size_t available = buffer_.size() - pos_;
      const char* end = static_cast<const char*>(std::memchr(start, '\n', available));
      const size_t take = end ? static_cast<size_t>(end - start) : available;
      keep(row, start, take);
      any = any || take > 0;
      pos_ += take;
      if (end) {
        ++pos_;
        ++line_;
        newline = true;
      }
    }
    if (!any && !newline) return false;  // the input ended with its last newline
    if (!row->too_long && !row->text.empty() && row->text.back() == '\r') row->text.pop_back();
    if (!row->too_long && static_cast<int64_t>(row->text.size()) > max_row_bytes_) {
      row->too_long = true;
      row->text.clear();
    }
    const bool blank = !row->too_long && row->text.find_first_not_of(" \t\r") == std::string::npos;
    if (blank) continue;
    row->source = fmt::format("{}:{}", path_, number);
    return true;
  }
  return false;
}

void JsonRowReader::failAt(const std::string& what) const {
  throw DataError(fmt::format("{}:{}: {} (after row {} of the JSON array)", path_, line_, what, rows_));
}

bool JsonRowReader::next(RowText* row) {
  row->text.clear();
  row->too_long = false;
  if (!array_) return nextLine(row);
  if (finished_) return false;
  // Between elements: whitespace, then a comma (or the opening bracket's successor), or ']'.
  int c = get();
  while (isSpace(c)) c = get();
  if (c == ']') {
    finished_ = true;
    for (c = get(); c != -1; c = get()) {
      if (!isSpace(c)) failAt(fmt::format("text after the closing ']' of the JSON array ('{}')", static_cast<char>(c)));
    }
    return false;
  }
  if (rows_ > 0) {
    if (c != ',') {
      if (c == -1) failAt("the JSON array is not closed (missing ']'; a truncated file?)");
      failAt(fmt::format("expected ',' or ']' between rows of the JSON array, got '{}'", static_cast<char>(c)));
    }
    c = get();
    while (isSpace(c)) c = get();
  }
  if (c == -1) failAt("the JSON array is not closed (missing ']'; a truncated file?)");
  ++rows_;
  row->source = fmt::format("{}:{} (row {})", path_, line_, rows_);
  // One element: count brackets outside strings; a scalar element ends at ',' or ']'.
  int depth = 0;
  bool in_string = false, escaped = false;
  auto keepByte = [&](int byte) {
    const char b = static_cast<char>(byte);
    keep(row, &b, 1);
  };
  for (;; c = get()) {
    if (c == -1) failAt("the JSON array ends inside a row (a truncated file?)");
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) {  // the array's own ']' after a scalar element
        --pos_;
        if (c == ']') break;
        failAt("unbalanced '}' in the JSON array");
      }
      --depth;
      if (depth == 0) {
        keepByte(c);
        break;
      }
    } else if (c == ',' && depth == 0) {
      --pos_;  // the separator belongs to the next call
      break;
    }
    keepByte(c);
  }
  return true;
}

}  // namespace gramrl::data::convert
