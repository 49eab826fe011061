// The process's ZeroMQ context and the one place where libzmq errors become exceptions.
//
// NOTE [libzmq errors]
// Every libzmq call that fails for a reason the caller did not expect goes through
// throwZmqError (usually via GRAMRL_ZMQ_CHECK), which names the operation, the endpoint or
// socket, and libzmq's own message (zmq_strerror). ETERM (the context was shut down) and
// EHOSTUNREACH (a ROUTER reply to a peer that is gone) become Disconnected; everything else
// (a malformed endpoint, an address in use, an unsupported protocol) becomes SystemError.
// EAGAIN and EINTR are expected outcomes: the socket code handles them and they never get here.
#pragma once

#include <atomic>
#include <string_view>

#include <zmq.hpp>

namespace gramrl::transport {

// Throws Disconnected or SystemError for a libzmq error number (see NOTE [libzmq errors]).
// `operation` is e.g. "bind" or "send"; `target` the endpoint or a description of the socket.
[[noreturn]] void throwZmqError(int error_number, std::string_view operation, std::string_view target);

// RAII owner of a zmq::context_t, shared by every socket of the process (sockets keep a
// reference; the context must outlive them).
//
// Threads: any thread may call shutdown() and isShutdown(); construction and destruction
// belong to one thread (usually main).
// shutdown(): idempotent, never blocks. Every call blocked in a socket of this context (send,
// recv, poll) wakes and throws Disconnected; later calls throw Disconnected too, and no new
// socket can be created. It is step 3 of the shutdown protocol (stop intake, close queues,
// shut the context, join threads).
// Destructor: shuts down, then blocks until every socket of the context is closed (libzmq's
// zmq_ctx_term), and for at most each socket's linger time to flush queued messages. Destroy
// (or close) all sockets first: a socket still open on the destroying thread deadlocks it.
class ZmqContext {
 public:
  explicit ZmqContext(int io_threads = 1);
  ~ZmqContext();

  ZmqContext(const ZmqContext&) = delete;
  ZmqContext& operator=(const ZmqContext&) = delete;

  void shutdown() noexcept;
  bool isShutdown() const noexcept { return shutdown_.load(std::memory_order_acquire); }

  // Sockets created in this context and not yet closed.
  int liveSockets() const noexcept { return live_sockets_.load(std::memory_order_acquire); }

  // The underlying context, for code that must create its own libzmq objects.
  zmq::context_t& raw() noexcept { return context_; }

 private:
  friend class Socket;
  void socketOpened() noexcept { live_sockets_.fetch_add(1, std::memory_order_acq_rel); }
  void socketClosed() noexcept { live_sockets_.fetch_sub(1, std::memory_order_acq_rel); }

  zmq::context_t context_;
  std::atomic<bool> shutdown_{false};
  std::atomic<int> live_sockets_{0};
};

}  // namespace gramrl::transport

// GRAMRL_ZMQ_CHECK(call, "operation", target): runs a libzmq C call that returns -1 on failure
// and converts the failure with throwZmqError (see NOTE [libzmq errors]).
#define GRAMRL_ZMQ_CHECK(call, operation, target)                             \
  do {                                                                        \
    if (__builtin_expect((call) == -1, 0)) {                                  \
      ::gramrl::transport::throwZmqError(zmq_errno(), (operation), (target)); \
    }                                                                         \
  } while (0)
