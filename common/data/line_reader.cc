#include "common/data/line_reader.h"

#include <algorithm>
#include <cstring>

#include "common/checkpoint/file_io.h"

namespace gramrl::data {
namespace {
constexpr size_t kBufferBytes = 1 << 16;
}  // namespace

LineReader::LineReader(const std::string& path, int64_t max_line_bytes)
    : file_(std::make_unique<checkpoint::ReadOnlyFile>(path)), max_line_bytes_(max_line_bytes), buffer_(kBufferBytes) {}

LineReader::~LineReader() = default;

bool LineReader::fill() {
  // The size is fixed at open: a file that grows meanwhile is read up to its old end, one that
  // shrinks is a DataError from readAt.
  if (offset_ >= file_->size()) return false;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), file_->size() - offset_));
  file_->readAt(buffer_.data(), n, offset_);
  offset_ += n;
  begin_ = 0;
  end_ = n;
  if (offset_ == n && n >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) begin_ = 3;
  return true;
}

bool LineReader::next(Line* line) {
  line->text.clear();
  line->bytes = 0;
  line->too_long = false;
  bool any = false;  // a line exists even when it is empty, unless the file ended
  for (;;) {
    if (begin_ == end_ && !fill()) {
      if (!any) return false;
      break;
    }
    any = true;
    const char* start = buffer_.data() + begin_;
    const size_t available = end_ - begin_;
    const char* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    const size_t take = newline ? static_cast<size_t>(newline - start) : available;
    line->bytes += static_cast<int64_t>(take);
    if (!line->too_long) {
      // Allow one extra byte for a "\r" that is stripped below.
      if (line->bytes > max_line_bytes_ + 1) {
        line->too_long = true;
        line->text.clear();
        line->text.shrink_to_fit();
      } else {
        line->text.append(start, take);
      }
    }
    begin_ += take;
    if (newline) {
      ++begin_;
      break;
    }
  }
  if (!line->text.empty() && line->text.back() == '\r') {
    line->text.pop_back();
    --line->bytes;
  }
  if (!line->too_long && line->bytes > max_line_bytes_) {
    line->too_long = true;
    line->text.clear();
  }
  line->number = ++line_number_;
  return true;
}

}  // namespace gramrl::data
