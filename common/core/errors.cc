#include "common/core/errors.h"

namespace gramrl {

int exitCodeFor(const std::exception& e) noexcept {
  if (dynamic_cast<const ConfigError*>(&e) || dynamic_cast<const DataError*>(&e)) return 2;
  if (dynamic_cast<const ProtocolError*>(&e) || dynamic_cast<const Disconnected*>(&e) ||
      dynamic_cast<const Overloaded*>(&e) || dynamic_cast<const Timeout*>(&e)) {
    return 3;
  }
  if (dynamic_cast<const CollectiveError*>(&e)) return 4;
  if (dynamic_cast<const InternalError*>(&e)) return 70;
  return 1;
}

namespace detail {
void throwInternal(const char* cond, const char* file, int line, const std::string& msg) {
  std::string what = fmt::format("internal error (a bug in gramrl): {} failed at {}:{}", cond, file, line);
  if (!msg.empty()) what += ": " + msg;
  throw InternalError(what);
}
}  // namespace detail

}  // namespace gramrl
