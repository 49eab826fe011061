#include "common/checkpoint/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/core/errors.h"

namespace gramrl::checkpoint {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

[[noreturn]] void throwSystem(std::string_view what, const std::string& path, int err) {
  throw SystemError(fmt::format("{} {}: {}", what, path, errnoText(err)));
}

std::string parentDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

std::atomic<uint64_t> temp_counter{0};

}  // namespace

ReadOnlyFile::ReadOnlyFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    throw DataError(fmt::format("cannot open {}: {}", path_, errnoText(err)));
  }
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throwSystem("fstat", path_, errno);
    GRAMRL_CHECK(S_ISREG(st.st_mode), DataError, "{} is not a regular file", path_);
    size_ = static_cast<uint64_t>(st.st_size);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

ReadOnlyFile::~ReadOnlyFile() { ::close(fd_); }

void ReadOnlyFile::readAt(void* out, size_t size, uint64_t offset) const {
  auto* dst = static_cast<uint8_t*>(out);
  size_t done = 0;
  while (done < size) {
    // Linux transfers at most 0x7ffff000 bytes per call.
    const size_t chunk = std::min<size_t>(size - done, size_t{1} << 30);
    const ssize_t n = ::pread(fd_, dst + done, chunk, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throwSystem("read", path_, errno);
    }
    GRAMRL_CHECK(n > 0, DataError, "{}: file ends at byte {}, expected at least {} (truncated?)", path_, offset + done,
                 offset + size);
    done += static_cast<size_t>(n);
  }
}

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  const ReadOnlyFile file(path_);
  GRAMRL_CHECK(file.size() <= SIZE_MAX, DataError, "{} is too large to map ({} bytes)", path_, file.size());
  size_ = static_cast<size_t>(file.size());
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.fd(), 0);
    if (p == MAP_FAILED) throwSystem("mmap", path_, errno);
    data_ = static_cast<uint8_t*>(p);
  }
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

std::string readFile(const std::string& path, size_t max_bytes) {
  const ReadOnlyFile file(path);
  GRAMRL_CHECK(file.size() <= max_bytes, DataError, "{}: {} bytes, more than the limit of {} for this kind of file",
               path, file.size(), max_bytes);
  std::string out(static_cast<size_t>(file.size()), '\0');
  file.readAt(out.data(), out.size(), 0);
  return out;
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  const std::filesystem::path p(path_);
  const std::string dir = parentDir(path_);
  // O_EXCL on a fresh name instead of mkstemp: mkstemp creates mode 0600, and checkpoints
  // should get the usual 0666 & ~umask.
  for (int attempt = 0;; ++attempt) {
    temp_path_ = fmt::format("{}/.{}.tmp.{}.{}", dir, p.filename().string(), ::getpid(), temp_counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) break;
    if (errno != EEXIST || attempt > 100) throwSystem("cannot create", temp_path_, errno);
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t size) {
  GRAMRL_ASSERT(fd_ >= 0 && !committed_, "write to {} after commit", path_);
  const auto* src = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    const size_t chunk = std::min<size_t>(size - done, size_t{1} << 30);
    const ssize_t n = ::write(fd_, src + done, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwSystem("write", temp_path_, errno);
    }
    done += static_cast<size_t>(n);
  }
  written_ += size;
}

void AtomicFileWriter::commit() {
  GRAMRL_ASSERT(fd_ >= 0 && !committed_, "commit of {} twice", path_);
  if (::fsync(fd_) != 0) throwSystem("fsync", temp_path_, errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throwSystem("close", temp_path_, errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    throw SystemError(fmt::format("rename {} -> {}: {}", temp_path_, path_, errnoText(err)));
  }
  committed_ = true;
  syncDirectory(parentDir(path_));
}

void writeFileAtomically(const std::string& path, std::string_view contents) {
  AtomicFileWriter writer(path);
  writer.write(contents);
  writer.commit();
}

void syncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throwSystem("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throwSystem("fsync of directory", dir, err);
}

}  // namespace gramrl::checkpoint
