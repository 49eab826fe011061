#include "common/data/convert/json_row_reader.h"

#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/core/errors.h"
#include "common/data/json_line.h"
#include "common/data/line_reader.h"

namespace gramrl::data::convert {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

bool isSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

JsonRowReader::JsonRowReader(const std::string& path, int64_t max_row_bytes)
    : path_(path), max_row_bytes_(max_row_bytes) {
  checkInputFile(path, "data convert");
  in_.open(path, std::ios::binary);
  GRAMRL_CHECK(in_.is_open(), DataError, "{}: cannot open: {}", path, std::strerror(errno));
  // Skip a UTF-8 byte order mark and whitespace to see whether this is an array.
  int c = get();
  if (c == 0xEF) {
    const int b = get(), d = get();
    GRAMRL_CHECK(b == 0xBB && d == 0xBF, DataError, "{}:1: not JSON or JSONL (starts with byte 0xEF)", path);
    c = get();
  }
  while (isSpace(c)) c = get();
  array_ = c == '[';
  if (!array_) {
    in_.close();
    lines_ = std::make_unique<LineReader>(path, max_row_bytes);
    line_ = 0;
  }
}

JsonRowReader::~JsonRowReader() = default;

int JsonRowReader::get() {
  if (pos_ == buffer_.size()) {
    buffer_.resize(kChunkBytes);
    in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    const std::streamsize got = in_.gcount();
    GRAMRL_CHECK(got > 0 || !in_.bad(), SystemError, "{}: read failed", path_);
    buffer_.resize(static_cast<size_t>(got));
    pos_ = 0;
    if (got == 0) return -1;
  }
  const int c = static_cast<unsigned char>(buffer_[pos_++]);
  if (c == '\n') ++line_;
  return c;
}

void JsonRowReader::failAt(const std::string& what) const {
  throw DataError(fmt::format("{}:{}: {} (after row {} of the JSON array)", path_, line_, what, rows_));
}

bool JsonRowReader::next(RowText* row) {
  row->text.clear();
  row->too_long = false;
  if (!array_) {
    Line line;
    while (lines_->next(&line)) {
      const bool blank = !line.too_long && line.text.find_first_not_of(" \t\r") == std::string::npos;
      if (blank) continue;
      row->text = std::move(line.text);
      row->too_long = line.too_long;
      row->source = fmt::format("{}:{}", path_, line.number);
      return true;
    }
    return false;
  }
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
  auto keep = [&](int byte) {
    if (row->too_long) return;
    if (static_cast<int64_t>(row->text.size()) >= max_row_bytes_) {
      row->too_long = true;
      row->text.clear();
      row->text.shrink_to_fit();
      return;
    }
    row->text.push_back(static_cast<char>(byte));
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
        keep(c);
        break;
      }
    } else if (c == ',' && depth == 0) {
      --pos_;  // the separator belongs to the next call
      break;
    }
    keep(c);
  }
  return true;
}

}  // namespace gramrl::data::convert
