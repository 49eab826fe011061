// Optional CurveZMQ authentication and encryption for gramrl's TCP channels (ZeroMQ's built-in
// CURVE mechanism, RFC 26), with keys from files and an allow-list of client keys checked by a
// ZAP handler (RFC 27).
//
// NOTE [CurveZMQ]
// A cluster whose network is shared turns CURVE on per server (the reward server:
// reward.server.curve_keys_dir). One key directory, made by `gramrl reward keygen DIR`, holds
//   server.key          the server's public key        (copied to every client)
//   server.key_secret   the server's secret key, 0600  (server only)
//   client.key          a client's public key          (client)
//   client.key_secret   a client's secret key, 0600    (client only)
//   authorized_clients/ one NAME.key per client public key the server accepts (server only)
// Each key file is the 40-character Z85 text of a 32-byte key and a newline (what
// zmq_curve_keypair gives). The server socket sets curve_server + its secret key; a client sets
// the server's public key and its own pair (SocketOptions, socket.h). libzmq then encrypts and
// authenticates every connection, and asks the ZAP handler of the socket's context whether the
// client's public key may connect: a ZapAuthenticator, which accepts the keys in
// authorized_clients/ and refuses all others (a refused client's messages are never delivered,
// and the client sees nothing: its requests time out). A plain (non-CURVE) client cannot
// complete the handshake with a CURVE server and gets nothing either.
// Without a ZapAuthenticator in the context, libzmq would accept any CURVE client that knows the
// server's public key: a server must construct it before binding and keep it alive while the
// sockets live.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/transport/socket.h"
#include "common/transport/zmq_context.h"

namespace gramrl::transport {

inline constexpr size_t kCurveKeyZ85Chars = 40;  // a 32-byte key in Z85

// Throws ConfigError unless this libzmq was built with CURVE (zmq_has("curve")). `what` names
// the setting that asked for it, e.g. "reward.server.curve_keys_dir".
void requireCurve(const std::string& what);

// A key pair as Z85 text.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};
// zmq_curve_keypair. Throws ConfigError without CURVE.
CurveKeyPair generateCurveKeyPair();

enum class CurveRole { kServer, kClient };

// The keys one side needs (NOTE [CurveZMQ]); fields of the other side stay empty.
struct CurveKeys {
  std::string server_public;                    // both roles: DIR/server.key
  std::string server_secret;                    // kServer: DIR/server.key_secret
  std::string client_public;                    // kClient: DIR/client.key
  std::string client_secret;                    // kClient: DIR/client.key_secret
  std::vector<std::string> authorized_clients;  // kServer: DIR/authorized_clients/*.key, sorted by file name
};

// Reads the key files of `role` from `dir`. Throws ConfigError naming the path for a missing or
// unreadable file, a key that is not 40 characters, not Z85, or (pairs) a public key that is not
// the secret key's, an authorized_clients/ directory without any *.key file; and without CURVE.
// Blocking: reads a few small files.
CurveKeys loadCurveKeys(const std::string& dir, CurveRole role);

// Writes a new key directory (NOTE [CurveZMQ]): a server pair, one client pair, and the client's
// public key in authorized_clients/client.key. Each file is written atomically (a temporary file
// renamed over it); secret files are created 0600. Throws ConfigError when DIR already holds
// keys (it never overwrites a key) or without CURVE; SystemError when a file cannot be written.
void writeCurveKeyDir(const std::string& dir);

// SocketOptions for each side; both call requireCurve.
void setCurveServerOptions(SocketOptions& options, const CurveKeys& keys, const std::string& zap_domain = "gramrl");
void setCurveClientOptions(SocketOptions& options, const CurveKeys& keys);

// The ZAP handler of one ZmqContext (RFC 27): accepts CURVE clients whose public key is in the
// allowed set, refuses every other request (other keys, other mechanisms, other domains when
// `domain` is not empty), logging each refusal at warn level.
//
// Threads: owns one thread, which owns the handler's socket (inproc://zeromq.zap.01). The
// counters and stop() may be used from any thread. Construct it before the CURVE server sockets
// bind, destroy it after they are closed (it must cover their lifetime), and before the context.
// Blocking: the constructor waits until the handler is bound; stop() and the destructor wait for
// the thread to finish (at most ~100 ms, its poll interval), or return at once after the
// context was shut down.
// Throws: the constructor, ConfigError for a key that is not Z85 and without CURVE, SystemError
// when the endpoint is taken (one handler per context); rethrowIfFailed(), the handler thread's
// first error. A server calls rethrowIfFailed() in its loop and stops when it throws: with the
// handler gone, libzmq builds without ZMQ_ZAP_ENFORCE_DOMAIN (a draft option, set on CURVE server
// sockets where available) fall back to accepting any CURVE client.
class ZapAuthenticator {
 public:
  ZapAuthenticator(ZmqContext& context, const std::vector<std::string>& allowed_public_keys_z85,
                   std::string domain = "");
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // Idempotent; safe from any thread.
  void stop() noexcept;
  void rethrowIfFailed();

  uint64_t acceptedCount() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  uint64_t refusedCount() const noexcept { return refused_.load(std::memory_order_relaxed); }

 private:
  void run(void* socket);

  std::set<std::string> allowed_;  // 32-byte binary keys
  std::string domain_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::mutex join_mutex_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace gramrl::transport
