// Error types for gramrl, named by what the caller should do about them.
//
// NOTE [Two error families]
// GRAMRL_CHECK is for bad input from users, config files, data files and peers: it throws
// the typed error given to it, with a message that names the offending values. GRAMRL_ASSERT
// is for our own invariants: a failure is a bug in gramrl and throws InternalError with the
// condition text and file:line. Expected conditions ("queue empty", "would block", "no reply
// yet") are return values, never exceptions.
//
// Every class derives from gramrl::Error (a std::runtime_error), so a main() can map any of
// them to an exit code in one place (see exitCodeFor).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/core.h>

namespace gramrl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A config file, override or command-line value is wrong. Fix the input and run again.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A data file (JSONL, checkpoint, tokenizer) is missing, unreadable or malformed.
class DataError : public Error {
 public:
  using Error::Error;
};

// A peer sent bytes that are not a valid message of the expected channel. Answer with an
// error reply or drop the message; the connection and the server stay up.
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// The peer is gone or the socket/context was closed. Reconnect or fail over.
class Disconnected : public Error {
 public:
  using Error::Error;
};

// The peer is alive but refused work because its queue is full. Back off and retry, or try
// another replica.
class Overloaded : public Error {
 public:
  using Error::Error;
};

// A deadline passed before the operation completed. Retry if the policy allows.
class Timeout : public Error {
 public:
  using Error::Error;
};

// A collective (allreduce, broadcast, barrier) or the rendezvous store failed; the process
// group is unusable and the run must stop or restart from a checkpoint.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

// An operating-system or library call failed (file I/O, sockets, process spawn).
class SystemError : public Error {
 public:
  using Error::Error;
};

// A gramrl invariant does not hold: a bug. Thrown by GRAMRL_ASSERT.
class InternalError : public Error {
 public:
  using Error::Error;
};

// Process exit code for an exception escaping main(): 2 for input the user can fix (config,
// data), 3 for peers and the network, 4 for collectives, 70 (EX_SOFTWARE) for bugs, 1 otherwise.
int exitCodeFor(const std::exception& e) noexcept;

namespace detail {
[[noreturn]] void throwInternal(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace gramrl

// GRAMRL_CHECK(cond, ErrorType, "format {}", values...): throws ErrorType with the formatted
// message when cond is false. For input from outside gramrl (see NOTE [Two error families]).
#define GRAMRL_CHECK(cond, ErrorType, ...)                   \
  do {                                                       \
    if (__builtin_expect(!(cond), 0)) {                      \
      throw ::gramrl::ErrorType(::fmt::format(__VA_ARGS__)); \
    }                                                        \
  } while (0)

// GRAMRL_ASSERT(cond, "format {}", values...): throws InternalError naming the condition and
// file:line when one of gramrl's own invariants is broken. The message is optional.
#define GRAMRL_ASSERT(cond, ...)                                                                                \
  do {                                                                                                          \
    if (__builtin_expect(!(cond), 0)) {                                                                         \
      ::gramrl::detail::throwInternal(#cond, __FILE__, __LINE__, ::gramrl::detail::assertMessage(__VA_ARGS__)); \
    }                                                                                                           \
  } while (0)

namespace gramrl::detail {
inline std::string assertMessage() { return {}; }
template <typename... Args>
std::string assertMessage(fmt::format_string<Args...> f, Args&&... args) {
  return fmt::format(f, std::forward<Args>(args)...);
}
}  // namespace gramrl::detail
