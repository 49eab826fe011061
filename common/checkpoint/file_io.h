// File primitives for checkpoints: read-only memory maps, whole-file reads, and atomic writes.
// Torch-free.
//
// NOTE [Atomic checkpoint files]
// Every checkpoint file is written to a temporary file in the same directory
// (".<name>.tmp.<pid>.<n>"), flushed with fsync, renamed over the final name, and the directory
// is fsynced. A reader therefore sees either no file or the complete file, never a prefix, even
// after a crash or power loss. A writer that is destroyed without commit() (an exception, a
// crash) leaves at most its temporary file, which no loader looks at. Because files are only
// ever replaced by rename, never rewritten in place, a reader that has a file mapped keeps the
// old contents (the old inode) while a new checkpoint is written; see NOTE [Mapped tensors] in
// checkpoint.h.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace gramrl::checkpoint {

// An open file for positioned reads. Threads: const members may be called from any thread at
// once (pread). Not copyable or movable. Throws DataError when the file is missing, unreadable or
// not a regular file.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(std::string path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }  // at open time
  int fd() const { return fd_; }
  // Reads exactly `size` bytes at `offset`, retrying short reads. Throws DataError naming the file
  // when it ends early (truncated since it was opened), SystemError on an I/O error.
  void readAt(void* out, size_t size, uint64_t offset) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A whole file mapped copy-on-write (MAP_PRIVATE, PROT_READ | PROT_WRITE): writes through data()
// change this process's pages only, never the file. Holds no file descriptor (the mapping keeps
// the file's inode alive), so thousands of mapped shards do not exhaust descriptors. Empty files
// are not mapped (data() is null). Threads: const members may be called from any thread. Not
// copyable or movable: share it with std::shared_ptr (mapped tensors do). Throws DataError when
// the file is missing or unreadable, SystemError when mmap fails.
class MappedFile {
 public:
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads the whole file. Throws DataError when it is missing, unreadable or larger than max_bytes.
std::string readFile(const std::string& path, size_t max_bytes);

// Writes one file atomically (NOTE [Atomic checkpoint files]). Threads: one at a time.
// Throws SystemError naming the path for every failed system call (disk full, permissions).
class AtomicFileWriter {
 public:
  // Creates the temporary file next to `path`. The directory must exist.
  explicit AtomicFileWriter(std::string path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  uint64_t bytesWritten() const { return written_; }
  // fsync, close, rename over the final path, fsync the directory. Call at most once.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& tempPath() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// AtomicFileWriter for a small file held in memory.
void writeFileAtomically(const std::string& path, std::string_view contents);

// fsyncs a directory so that renames and unlinks in it are durable. Throws SystemError.
void syncDirectory(const std::string& dir);

}  // namespace gramrl::checkpoint
