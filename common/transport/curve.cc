#include "common/transport/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/core.h>
#include <zmq.h>

#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl::transport {
namespace {

namespace fs = std::filesystem;

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr size_t kCurveKeyBytes = 32;

std::string z85Encode(const std::string& binary) {
  char text[kCurveKeyZ85Chars + 1] = {};
  if (binary.size() != kCurveKeyBytes ||
      zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(binary.data()), binary.size()) == nullptr) {
    return "<not a 32-byte key>";
  }
  return text;
}

// The 32 bytes of a 40-character Z85 key, or empty when it is not one.
std::string z85Decode(const std::string& text) {
  if (text.size() != kCurveKeyZ85Chars) return {};
  std::string binary(kCurveKeyBytes, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(binary.data()), text.c_str()) == nullptr) return {};
  return binary;
}

// The key in a key file: its first line, without surrounding spaces.
std::string readKeyFile(const fs::path& path) {
  std::error_code ec;
  GRAMRL_CHECK(fs::is_regular_file(path, ec), ConfigError,
               "curve key file {}: missing (make a key directory with `gramrl reward keygen DIR`)", path.string());
  std::ifstream in(path, std::ios::binary);
  GRAMRL_CHECK(in.good(), ConfigError, "curve key file {}: cannot be read: {}", path.string(), std::strerror(errno));
  std::string text;
  std::getline(in, text);
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), space));
  text.erase(std::find_if_not(text.rbegin(), text.rend(), space).base(), text.end());
  GRAMRL_CHECK(text.size() == kCurveKeyZ85Chars, ConfigError,
               "curve key file {}: expected a {}-character Z85 key, got {} characters", path.string(),
               kCurveKeyZ85Chars, text.size());
  GRAMRL_CHECK(!z85Decode(text).empty(), ConfigError, "curve key file {}: not a Z85 key (characters outside Z85)",
               path.string());
  return text;
}

void checkPair(const fs::path& public_path, const std::string& public_key, const fs::path& secret_path,
               const std::string& secret_key) {
  char derived[kCurveKeyZ85Chars + 1] = {};
  GRAMRL_CHECK(zmq_curve_public(derived, secret_key.c_str()) == 0, ConfigError,
               "curve key file {}: cannot derive its public key: {}", secret_path.string(), zmq_strerror(zmq_errno()));
  GRAMRL_CHECK(public_key == derived, ConfigError, "curve key files {} and {}: the public key is not the secret key's",
               public_path.string(), secret_path.string());
}

// Writes `text` to `path` through a temporary file in the same directory and a rename.
void writeFileAtomically(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path tmp = path.string() + fmt::format(".tmp.{}", getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  GRAMRL_CHECK(fd >= 0, SystemError, "cannot create {}: {}", tmp.string(), std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw SystemError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  // fchmod as well: an existing temporary file keeps its old mode under O_CREAT.
  const bool ok = ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_err = ok ? errno : err;
    ::unlink(tmp.c_str());
    throw SystemError(fmt::format("cannot write {}: {}", path.string(), std::strerror(rename_err)));
  }
}

// RAII for the handler's libzmq socket.
struct ZmqSocketCloser {
  void operator()(void* socket) const noexcept { zmq_close(socket); }
};
using ZmqSocketPtr = std::unique_ptr<void, ZmqSocketCloser>;

// One received multipart message as strings. Returns false when the context was shut down.
bool recvParts(void* socket, std::vector<std::string>& parts) {
  parts.clear();
  while (true) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, 0) == -1) {
      const int err = zmq_errno();
      zmq_msg_close(&msg);
      if (err == EINTR) continue;
      if (err == ETERM) return false;
      throwZmqError(err, "recv", "the ZAP handler socket");
    }
    parts.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    const bool more = zmq_msg_more(&msg) != 0;
    zmq_msg_close(&msg);
    if (!more) return true;
  }
}

// Returns false when the context was shut down.
bool sendParts(void* socket, const std::vector<std::string>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    const int flags = i + 1 < parts.size() ? ZMQ_SNDMORE : 0;
    while (zmq_send(socket, parts[i].data(), parts[i].size(), flags) == -1) {
      const int err = zmq_errno();
      if (err == EINTR) continue;
      if (err == ETERM) return false;
      throwZmqError(err, "send", "the ZAP handler socket");
    }
  }
  return true;
}

}  // namespace

void requireCurve(const std::string& what) {
  GRAMRL_CHECK(zmq_has("curve") == 1, ConfigError,
               "{}: CurveZMQ asked for, but this libzmq ({}.{}.{}) was built without CURVE (libsodium)", what,
               ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH);
}

CurveKeyPair generateCurveKeyPair() {
  requireCurve("generating a CURVE key pair");
  char public_key[kCurveKeyZ85Chars + 1] = {};
  char secret_key[kCurveKeyZ85Chars + 1] = {};
  GRAMRL_CHECK(zmq_curve_keypair(public_key, secret_key) == 0, SystemError, "zmq_curve_keypair failed: {}",
               zmq_strerror(zmq_errno()));
  return {public_key, secret_key};
}

CurveKeys loadCurveKeys(const std::string& dir, CurveRole role) {
  requireCurve(fmt::format("curve keys in {}", dir));
  const fs::path root(dir);
  std::error_code ec;
  GRAMRL_CHECK(fs::is_directory(root, ec), ConfigError,
               "curve key directory {}: missing (make one with `gramrl reward keygen DIR`)", dir);
  CurveKeys keys;
  keys.server_public = readKeyFile(root / "server.key");
  if (role == CurveRole::kServer) {
    keys.server_secret = readKeyFile(root / "server.key_secret");
    checkPair(root / "server.key", keys.server_public, root / "server.key_secret", keys.server_secret);
    const fs::path authorized = root / "authorized_clients";
    GRAMRL_CHECK(fs::is_directory(authorized, ec), ConfigError,
                 "curve key directory {}: missing (put the public key of each client allowed to connect in it "
                 "as NAME.key)",
                 authorized.string());
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(authorized, ec)) {
      if (entry.path().extension() == ".key") files.push_back(entry.path());
    }
    GRAMRL_CHECK(!ec, ConfigError, "curve key directory {}: cannot be listed: {}", authorized.string(), ec.message());
    GRAMRL_CHECK(!files.empty(), ConfigError, "curve key directory {}: no *.key file, so no client could connect",
                 authorized.string());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) keys.authorized_clients.push_back(readKeyFile(file));
  } else {
    keys.client_public = readKeyFile(root / "client.key");
    keys.client_secret = readKeyFile(root / "client.key_secret");
    checkPair(root / "client.key", keys.client_public, root / "client.key_secret", keys.client_secret);
  }
  return keys;
}

void writeCurveKeyDir(const std::string& dir) {
  requireCurve("gramrl reward keygen");
  const fs::path root(dir);
  const fs::path authorized = root / "authorized_clients";
  const std::vector<fs::path> targets = {root / "server.key", root / "server.key_secret", root / "client.key",
                                         root / "client.key_secret", authorized / "client.key"};
  std::error_code ec;
  for (const auto& target : targets) {
    GRAMRL_CHECK(!fs::exists(target, ec), ConfigError,
                 "{} already exists: keygen never overwrites keys (remove them or choose another directory)",
                 target.string());
  }
  fs::create_directories(authorized, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create {}: {}", authorized.string(), ec.message());
  const auto server = generateCurveKeyPair();
  const auto client = generateCurveKeyPair();
  // Secrets first: a directory with public keys but no secrets is never left behind as complete.
  writeFileAtomically(root / "server.key_secret", server.secret_key + "\n", 0600);
  writeFileAtomically(root / "client.key_secret", client.secret_key + "\n", 0600);
  writeFileAtomically(root / "server.key", server.public_key + "\n", 0644);
  writeFileAtomically(root / "client.key", client.public_key + "\n", 0644);
  writeFileAtomically(authorized / "client.key", client.public_key + "\n", 0644);
}

namespace {
void setCurveKey(std::string& field, const std::string& key, const char* name) {
  GRAMRL_CHECK(key.size() == kCurveKeyZ85Chars && !z85Decode(key).empty(), ConfigError,
               "curve: {} is not a 40-character Z85 key", name);
  field = key;
}
}  // namespace

void setCurveServerOptions(SocketOptions& options, const CurveKeys& keys, const std::string& zap_domain) {
  requireCurve("curve server socket");
  options.curve_server = true;
  setCurveKey(options.curve_secret_key, keys.server_secret, "the server's secret key");
  options.curve_public_key.clear();
  options.curve_server_key.clear();
  options.zap_domain = zap_domain;
}

void setCurveClientOptions(SocketOptions& options, const CurveKeys& keys) {
  requireCurve("curve client socket");
  options.curve_server = false;
  setCurveKey(options.curve_server_key, keys.server_public, "the server's public key");
  setCurveKey(options.curve_public_key, keys.client_public, "the client's public key");
  setCurveKey(options.curve_secret_key, keys.client_secret, "the client's secret key");
}

// ---- ZapAuthenticator -----------------------------------------------------------------------

ZapAuthenticator::ZapAuthenticator(ZmqContext& context, const std::vector<std::string>& allowed_public_keys_z85,
                                   std::string domain)
    : domain_(std::move(domain)) {
  requireCurve("the ZAP handler");
  for (size_t i = 0; i < allowed_public_keys_z85.size(); ++i) {
    std::string binary = z85Decode(allowed_public_keys_z85[i]);
    GRAMRL_CHECK(!binary.empty(), ConfigError, "ZapAuthenticator: allowed key {} is not a 40-character Z85 key", i);
    allowed_.insert(std::move(binary));
  }
  // Bound here, so that a taken endpoint throws from the constructor and no CURVE handshake can
  // start before the handler is listening; then handed to the thread (the thread start orders it).
  ZmqSocketPtr socket(zmq_socket(context.raw().handle(), ZMQ_REP));
  if (!socket) throwZmqError(zmq_errno(), "socket", "the ZAP handler");
  const int linger = 0;
  GRAMRL_ZMQ_CHECK(zmq_setsockopt(socket.get(), ZMQ_LINGER, &linger, sizeof(linger)), "setsockopt ZMQ_LINGER",
                   kZapEndpoint);
  if (zmq_bind(socket.get(), kZapEndpoint) == -1) {
    const int err = zmq_errno();
    GRAMRL_CHECK(err != EADDRINUSE, SystemError,
                 "bind {}: a ZAP handler is already running in this context (one ZapAuthenticator per ZmqContext)",
                 kZapEndpoint);
    throwZmqError(err, "bind", kZapEndpoint);
  }
  void* raw = socket.release();
  thread_ = std::thread([this, raw] { run(raw); });
}

ZapAuthenticator::~ZapAuthenticator() { stop(); }

void ZapAuthenticator::stop() noexcept {
  stop_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(join_mutex_);  // two threads stopping at once must not both join
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void ZapAuthenticator::rethrowIfFailed() {
  std::lock_guard<std::mutex> lock(error_mutex_);
  if (error_) std::rethrow_exception(error_);
}

void ZapAuthenticator::run(void* raw) {
  ZmqSocketPtr socket(raw);
  try {
    std::vector<std::string> request;
    while (!stop_.load(std::memory_order_acquire)) {
      zmq_pollitem_t item{socket.get(), 0, ZMQ_POLLIN, 0};
      const int ready = zmq_poll(&item, 1, 100);  // the interval at which stop() is noticed
      if (ready == -1) {
        const int err = zmq_errno();
        if (err == EINTR) continue;
        if (err == ETERM) return;
        throwZmqError(err, "poll", "the ZAP handler socket");
      }
      if (ready == 0) continue;
      if (!recvParts(socket.get(), request)) return;
      // RFC 27: version, request id, domain, address, routing id, mechanism, credentials...
      std::string status = "200", text = "OK", user;
      if (request.size() < 6 || request[0] != "1.0") {
        status = "500";
        text = "malformed ZAP request";
        refused_.fetch_add(1, std::memory_order_relaxed);
        log::warn("zap: refused a malformed ZAP request ({} frames)", request.size());
        request.resize(std::max<size_t>(request.size(), 2));
      } else {
        const std::string& domain = request[2];
        const std::string& address = request[3];
        const std::string& mechanism = request[5];
        const std::string key = mechanism == "CURVE" && request.size() >= 7 ? request[6] : std::string();
        if (mechanism != "CURVE") {
          status = "400";
          text = "CURVE required";
        } else if (!domain_.empty() && domain != domain_) {
          status = "400";
          text = "unknown ZAP domain";
        } else if (allowed_.count(key) == 0) {
          status = "400";
          text = "client key not authorized";
        }
        if (status == "200") {
          accepted_.fetch_add(1, std::memory_order_relaxed);
          user = z85Encode(key);
          log::debug("zap: accepted CURVE client {} from {}", user, address);
        } else {
          refused_.fetch_add(1, std::memory_order_relaxed);
          log::warn("zap: refused a {} client from {} (domain '{}'{}): {}", mechanism, address, domain,
                    key.empty() ? std::string() : ", key " + z85Encode(key), text);
        }
      }
      if (!sendParts(socket.get(), {"1.0", request[1], status, text, user, ""})) return;
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
    log::error("zap: the ZAP handler stopped on an error (see ZapAuthenticator::rethrowIfFailed)");
  }
}

}  // namespace gramrl::transport
