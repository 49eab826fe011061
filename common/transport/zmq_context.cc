#include "common/transport/zmq_context.h"

#include <cerrno>

#include <fmt/core.h>

#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl::transport {

void throwZmqError(int error_number, std::string_view operation, std::string_view target) {
  const std::string what =
      fmt::format("zmq {} {}: {} (errno {})", operation, target, zmq_strerror(error_number), error_number);
  if (error_number == ETERM) {
    throw Disconnected(what + "; the ZeroMQ context was shut down");
  }
  if (error_number == EHOSTUNREACH) {
    throw Disconnected(what + "; the peer is not connected");
  }
  throw SystemError(what);
}

ZmqContext::ZmqContext(int io_threads) : context_(io_threads) {}

ZmqContext::~ZmqContext() {
  shutdown();
  const int live = liveSockets();
  if (live > 0) {
    log::warn("ZmqContext destroyed with {} socket(s) still open; waiting for their owners to close them", live);
  }
  context_.close();  // zmq_ctx_term: waits for every socket to close (bounded by their linger)
}

void ZmqContext::shutdown() noexcept {
  if (!shutdown_.exchange(true, std::memory_order_acq_rel)) {
    context_.shutdown();
  }
}

}  // namespace gramrl::transport
