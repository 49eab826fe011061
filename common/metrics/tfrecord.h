// TFRecord framing, the container of TensorBoard event files.
//
// NOTE [TFRecord framing]
// A file is a sequence of records, each:
//   uint64 length (little endian)
//   uint32 maskCrc(crc32c(the 8 length bytes))
//   length bytes of data
//   uint32 maskCrc(crc32c(data))
// There is no file header and no index; a reader walks the records from offset 0. Because a
// record is appended whole and never rewritten, a writer that dies leaves every earlier record
// intact and at most a truncated last one.
//
// Threads: pure functions, callable from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gramrl::metrics {

// One framed record holding `data` (NOTE [TFRecord framing]).
std::string frameTfRecord(std::string_view data);

// The data of every record in `bytes`, verifying both CRCs of each. Throws DataError naming
// `source` (a file name, for messages) and the record's byte offset for a bad length CRC, a bad
// data CRC or a truncated record.
std::vector<std::string> parseTfRecords(std::string_view bytes, const std::string& source);

// parseTfRecords of a whole file. Also throws DataError when the file cannot be read.
std::vector<std::string> readTfRecords(const std::string& path);

}  // namespace gramrl::metrics
