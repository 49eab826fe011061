#include "reward/service/http_endpoint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/config/experiment_config.h"
#include "common/core/logging.h"

namespace gramrl::reward {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// The body of POST /get_reward
// ---------------------------------------------------------------------------------------------

namespace {

// OpenRLHF's body nests two levels; anything far deeper is hostile.
constexpr int kMaxJsonDepth = 64;

Json parseJsonBody(std::string_view body) {
  try {
    return Json::parse(body.begin(), body.end(), [](int depth, Json::parse_event_t, Json&) {
      GRAMRL_CHECK(depth <= kMaxJsonDepth, DataError, "body: JSON nested deeper than {} levels", kMaxJsonDepth);
      return true;
    });
  } catch (const Json::exception& e) {
    throw DataError(fmt::format("body: not valid JSON ({})", e.what()));
  }
}

// A list the same length as query, or nullptr when the key is absent or null.
Json* optionalList(Json& doc, const char* key, size_t expected) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return nullptr;
  GRAMRL_CHECK(it->is_array(), DataError, "{}: expected a list of strings, got {}", key, it->type_name());
  GRAMRL_CHECK(it->size() == expected, DataError, "{}: {} entries, but query has {}", key, it->size(), expected);
  return &*it;
}

// A label as text: strings as they are, null as "", numbers and booleans as their JSON text.
std::string labelText(Json& label, size_t i) {
  if (label.is_string()) return std::move(label.get_ref<std::string&>());
  if (label.is_null()) return {};
  GRAMRL_CHECK(label.is_number() || label.is_boolean(), DataError,
               "labels[{}]: expected a string, number, boolean or null, got {}", i, label.type_name());
  return label.dump();
}

}  // namespace

ScoreRequest parseGetRewardBody(std::string_view body, const RequestLimits& limits) {
  Json doc = parseJsonBody(body);
  GRAMRL_CHECK(doc.is_object(), DataError, "body: expected a JSON object with \"query\", got {}", doc.type_name());
  auto query = doc.find("query");
  GRAMRL_CHECK(query != doc.end() && !query->is_null(), DataError,
               "query: missing (expected a list of strings, each a prompt followed by its response)");
  GRAMRL_CHECK(query->is_array(), DataError, "query: expected a list of strings, got {}", query->type_name());
  const size_t n = query->size();
  GRAMRL_CHECK(n <= limits.max_items, reward::RequestTooLarge,
               "query: {} items, more than the limit of {} (reward.server.max_request_items)", n, limits.max_items);
  Json* prompts = optionalList(doc, "prompts", n);
  Json* labels = optionalList(doc, "labels", n);

  ScoreRequest request;
  request.kind = RequestKind::kPointwise;
  request.pointwise.reserve(n);
  size_t text_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    Json& q = (*query)[i];
    GRAMRL_CHECK(q.is_string(), DataError, "query[{}]: expected a string, got {}", i, q.type_name());
    PointwiseItem item;
    if (prompts) {
      Json& p = (*prompts)[i];
      GRAMRL_CHECK(p.is_string(), DataError, "prompts[{}]: expected a string, got {}", i, p.type_name());
      item.prompt = std::move(p.get_ref<std::string&>());
    }
    // NOTE [OpenRLHF items as pointwise items] in the header.
    std::string& text = q.get_ref<std::string&>();
    if (prompts != nullptr && text.compare(0, item.prompt.size(), item.prompt) != 0) {
      size_t at = 0;
      while (at < text.size() && at < item.prompt.size() && text[at] == item.prompt[at]) ++at;
      throw DataError(
          fmt::format("query[{}]: does not start with prompts[{}] (they differ from byte {}), so the "
                      "response cannot be told apart; send query = prompt + response",
                      i, i, at));
    }
    if (prompts != nullptr) {
      item.response = text.substr(item.prompt.size());
    } else {
      item.response = std::move(text);
    }
    if (labels) {
      item.label = labelText((*labels)[i], i);
      item.reference = item.label;
      item.has_reference = true;
    }
    // Counted as ScoreRequest::textBytes counts: every text field of every item.
    text_bytes += item.prompt.size() + item.response.size() + item.reference.size() + item.label.size();
    GRAMRL_CHECK(text_bytes <= limits.max_text_bytes, reward::RequestTooLarge,
                 "query[{}]: the request's text passes {} bytes (reward.server.max_request_mb)", i,
                 limits.max_text_bytes);
    request.pointwise.push_back(std::move(item));
  }
  return request;
}

std::string formatGetRewardReply(const std::vector<double>& scores) {
  Json rewards = Json::array();
  for (size_t i = 0; i < scores.size(); ++i) {
    GRAMRL_ASSERT(std::isfinite(scores[i]), "the backend returned score {} = {}", i, scores[i]);
    rewards.push_back(scores[i]);
  }
  Json reply = Json::object();
  reply["rewards"] = rewards;
  reply["scores"] = std::move(rewards);
  return reply.dump();
}

HttpEndpointOptions httpEndpointOptions(const RewardServerOptions& server, const TransportOptions& transport) {
  HttpEndpointOptions options;
  options.bind_host = transport.bind_host;
  options.port = static_cast<uint16_t>(server.http_port);
  options.limits.max_items = static_cast<size_t>(server.max_request_items);
  options.limits.max_text_bytes = static_cast<size_t>(server.max_request_mb) << 20;
  options.max_body_bytes = static_cast<size_t>(server.max_request_mb) << 20;
  options.drain_timeout = std::chrono::seconds(server.drain_timeout_s);
  const RewardHttpOptions& http = server.http;
  options.io_threads = static_cast<int>(http.io_threads);
  options.max_connections = static_cast<size_t>(http.max_connections);
  options.max_connections_per_address = static_cast<size_t>(http.max_connections_per_address);
  options.max_header_bytes = static_cast<uint32_t>(http.max_header_kb) << 10;
  options.header_timeout = std::chrono::milliseconds(http.header_timeout_ms);
  options.io_timeout = std::chrono::milliseconds(http.io_timeout_ms);
  options.score_deadline = std::chrono::milliseconds(http.score_deadline_ms);
  return options;
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

namespace {

// After refusing a request whose body was not read (413, a bad header), the connection reads and
// drops up to this much for up to kLingerTime, so the client sees the answer instead of a reset.
constexpr size_t kMaxLingerBytes = size_t{1} << 20;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kMaxLoggedPath = 64;

class Session;

std::string errorBody(std::string_view message) {
  Json body = Json::object();
  body["error"] = std::string(message);
  // The message may quote peer bytes (a path); never throw on invalid UTF-8.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

http::status statusFor(wire::ErrorCode code) {
  switch (code) {
    case wire::ErrorCode::MALFORMED: return http::status::bad_request;
    case wire::ErrorCode::TOO_LARGE: return http::status::payload_too_large;
    case wire::ErrorCode::OVERLOADED:
    case wire::ErrorCode::SHUTTING_DOWN: return http::status::service_unavailable;
    case wire::ErrorCode::DEADLINE_EXCEEDED: return http::status::gateway_timeout;
    case wire::ErrorCode::UNSUPPORTED: return http::status::not_implemented;
    case wire::ErrorCode::INTERNAL:
    default: return http::status::internal_server_error;
  }
}

uint64_t nowUnixMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

bool isHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

}  // namespace

// NOTE [HTTP endpoint lifetimes]
// Connections (Session) run on their own strands of `ioc` and are kept alive by the handlers of
// their pending operations, as usual with Asio. While a request is with the ScoreSink no
// operation is pending: the sink's callback (ResultHandler) holds the Session then, and also a
// shared_ptr to this Core, so that a callback arriving after the endpoint is gone still posts
// into a live (stopped) io_context; ~io_context then destroys that handler and the Session.
// Sessions hold a plain Core*: they only run, and are only destroyed, while the Core lives
// (on an io thread, in a callback that holds the Core, or in ~io_context inside ~Core, which is
// why `ioc` is declared after every member a Session touches).
struct HttpRewardEndpoint::Core : std::enable_shared_from_this<Core> {
  Core(HttpEndpointOptions o, ScoreSink& s) : options(std::move(o)), sink(s) {}

  const HttpEndpointOptions options;
  ScoreSink& sink;

  std::mutex mu;
  std::condition_variable cv;                                     // a connection closed (sessions shrank)
  bool stopping = false;                                          // guarded by mu
  uint64_t next_id = 0;                                           // guarded by mu
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions;  // open connections; guarded by mu
  std::unordered_map<std::string, size_t> per_address;            // open connections by peer; guarded by mu

  std::mutex stop_mu;    // serialises stop()
  bool stopped = false;  // guarded by stop_mu

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  asio::steady_timer accept_backoff{acceptor.get_executor()};
  std::vector<std::thread> threads;

  void startAccept();
  void onAccept(beast::error_code ec, tcp::socket socket);
};

namespace {

using Core = HttpRewardEndpoint::Core;

// One connection. Every member function runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Core* core, uint64_t id, std::string address, tcp::socket socket)
      : core_(core), id_(id), address_(std::move(address)), stream_(std::move(socket)) {}
  ~Session() {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->sessions.erase(id_);
    if (auto it = core_->per_address.find(address_); it != core_->per_address.end() && --it->second == 0) {
      core_->per_address.erase(it);
    }
    core_->cv.notify_all();
  }

  auto executor() { return stream_.get_executor(); }
  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->readHeader(); });
  }
  void onStop();
  void onResult(uint64_t request_seq, ScoreResult result);

 private:
  enum class State { kReading, kWaiting, kWriting, kClosing };

  void readHeader();
  void onHeader(beast::error_code ec, size_t bytes);
  void readBody();
  void onBody(beast::error_code ec, size_t bytes);
  void onReadError(beast::error_code ec);
  void handle();
  void handleGetReward(std::string& body);
  void respond(http::status status, std::string body, uint32_t retry_after_s = 0, const char* allow = nullptr);
  void respondError(http::status status, std::string_view message, uint32_t retry_after_s = 0,
                    const char* allow = nullptr);
  void onWrite(beast::error_code ec, size_t bytes);
  void lingerClose();
  void onLinger(beast::error_code ec, size_t bytes);
  void closeNow();

  Core* core_;
  const uint64_t id_;
  const std::string address_;  // the peer's address, for max_connections_per_address
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_{http::status::continue_, 11};
  http::response<http::string_body> response_;
  State state_ = State::kReading;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool body_unread_ = false;  // the peer may still be sending a body we will not read
  bool stopping_ = false;
  uint64_t request_seq_ = 0;  // which request a ScoreSink answer belongs to
  size_t expected_items_ = 0;
  std::vector<char> linger_buffer_;
  size_t lingered_ = 0;
};

// The ScoreSink callback; see NOTE [HTTP endpoint lifetimes]. Member order matters: `session` is
// destroyed before `core`.
struct ResultHandler {
  std::shared_ptr<Core> core;
  std::shared_ptr<Session> session;
  uint64_t request_seq = 0;

  void operator()(ScoreResult result) {
    if (!session) return;  // called twice; the ScoreSink contract says it is not
    auto executor = session->executor();
    asio::post(executor, [s = std::move(session), seq = request_seq, r = std::move(result)]() mutable {
      s->onResult(seq, std::move(r));
    });
  }
};

void Session::readHeader() {
  state_ = State::kReading;
  if (stopping_) return closeNow();
  parser_.emplace();
  parser_->header_limit(core_->options.max_header_bytes);
  parser_->body_limit(core_->options.max_body_bytes);
  stream_.expires_after(core_->options.header_timeout);  // NOTE [Slow clients]
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::onHeader, shared_from_this()));
}

void Session::onHeader(beast::error_code ec, size_t) {
  if (ec) return onReadError(ec);
  const auto& request = parser_->get();
  version_ = request.version();
  if (beast::iequals(request[http::field::expect], "100-continue") && !parser_->is_done()) {
    http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code write_ec, size_t) {
      if (write_ec) return self->closeNow();
      self->readBody();
    });
    return;
  }
  readBody();
}

void Session::readBody() {
  if (parser_->is_done()) return handle();
  stream_.expires_after(core_->options.io_timeout);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::onBody, shared_from_this()));
}

void Session::onBody(beast::error_code ec, size_t) {
  if (ec) return onReadError(ec);
  handle();
}

void Session::onReadError(beast::error_code ec) {
  keep_alive_ = false;
  if (ec == http::error::body_limit) {
    body_unread_ = true;
    const auto length = parser_->content_length();
    return respondError(http::status::payload_too_large,
                        length ? fmt::format("body: {} bytes, more than the limit of {} (reward.server.max_request_mb)",
                                             *length, core_->options.max_body_bytes)
                               : fmt::format("body: more than the limit of {} bytes (reward.server.max_request_mb)",
                                             core_->options.max_body_bytes));
  }
  if (ec == http::error::header_limit) {
    body_unread_ = true;
    return respondError(
        http::status::request_header_fields_too_large,
        fmt::format("header: more than {} bytes (reward.server.http.max_header_kb)", core_->options.max_header_bytes));
  }
  if (isHttpParseError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
    body_unread_ = true;
    return respondError(http::status::bad_request, fmt::format("not a valid HTTP/1.1 request: {}", ec.message()));
  }
  // The peer closed, the read timed out (io_timeout) or stop() closed the socket.
  if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted) {
    log::debug("reward http: connection {} closed: {}", id_, ec.message());
  }
  closeNow();
}

void Session::handle() {
  stream_.expires_never();  // the model may take longer than io_timeout; writes re-arm it
  auto& request = parser_->get();
  keep_alive_ = request.keep_alive() && !stopping_;
  std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/get_reward") {
    if (request.method() != http::verb::post) {
      return respondError(http::status::method_not_allowed, "/get_reward takes POST", 0, "POST");
    }
    return handleGetReward(request.body());
  }
  if (path == "/health") {
    if (request.method() != http::verb::get) {
      return respondError(http::status::method_not_allowed, "/health takes GET", 0, "GET");
    }
    return respond(http::status::ok, R"({"status":"ok"})");
  }
  respondError(http::status::not_found,
               fmt::format("no such path: {}{} (this endpoint serves POST /get_reward and GET /health)",
                           path.substr(0, kMaxLoggedPath), path.size() > kMaxLoggedPath ? "..." : ""));
}

void Session::handleGetReward(std::string& body) {
  ScoreRequest request;
  try {
    request = parseGetRewardBody(body, core_->options.limits);
  } catch (const RequestTooLarge& e) {
    return respondError(http::status::payload_too_large, e.what());
  } catch (const DataError& e) {
    return respondError(http::status::bad_request, e.what());
  }
  body = std::string();  // the text now lives in `request`
  expected_items_ = request.pointwise.size();
  if (expected_items_ == 0) return respond(http::status::ok, formatGetRewardReply({}));
  if (stopping_) {
    keep_alive_ = false;
    return respondError(http::status::service_unavailable, "the reward server is shutting down");
  }
  const auto deadline = core_->options.score_deadline.count();
  if (deadline > 0) request.deadline_unix_ms = nowUnixMs() + static_cast<uint64_t>(deadline);
  state_ = State::kWaiting;
  const uint64_t seq = ++request_seq_;
  try {
    core_->sink.submit(std::move(request), ResultHandler{core_->shared_from_this(), shared_from_this(), seq});
  } catch (const std::exception& e) {
    log::warn("reward http: the score sink threw: {}", e.what());
    ++request_seq_;  // an answer for `seq` that still comes is ignored
    respondError(http::status::internal_server_error, fmt::format("internal error: {}", e.what()));
  }
}

void Session::onResult(uint64_t request_seq, ScoreResult result) {
  if (state_ != State::kWaiting || request_seq != request_seq_) return;
  if (stopping_) keep_alive_ = false;
  if (!result.ok) {
    const http::status status = statusFor(result.error_code);
    uint32_t retry_after_s = 0;
    if (result.error_code == wire::ErrorCode::OVERLOADED) {
      retry_after_s = std::max<uint32_t>(1, (result.retry_after_ms + 999) / 1000);
    }
    if (result.error_code == wire::ErrorCode::SHUTTING_DOWN) keep_alive_ = false;
    if (status == http::status::internal_server_error) {
      log::warn("reward http: request of {} items failed: {}", expected_items_, result.error);
    }
    return respondError(status, result.error, retry_after_s);
  }
  const auto& scores = result.reply.scores;
  if (scores.size() != expected_items_) {
    log::warn("reward http: the backend returned {} scores for {} items", scores.size(), expected_items_);
    return respondError(http::status::internal_server_error,
                        fmt::format("internal error: {} scores for {} items", scores.size(), expected_items_));
  }
  std::string body;
  try {
    body = formatGetRewardReply(scores);
  } catch (const std::exception& e) {
    log::warn("reward http: {}", e.what());
    return respondError(http::status::internal_server_error, fmt::format("internal error: {}", e.what()));
  }
  respond(http::status::ok, std::move(body));
}

void Session::respondError(http::status status, std::string_view message, uint32_t retry_after_s, const char* allow) {
  log::debug("reward http: connection {}: {} {}", id_, static_cast<unsigned>(status), message);
  respond(status, errorBody(message), retry_after_s, allow);
}

void Session::respond(http::status status, std::string body, uint32_t retry_after_s, const char* allow) {
  state_ = State::kWriting;
  response_ = {};
  response_.version(version_ == 10 ? 10 : 11);
  response_.result(status);
  response_.set(http::field::server, "gramrl");
  response_.set(http::field::content_type, "application/json");
  if (retry_after_s > 0) response_.set(http::field::retry_after, std::to_string(retry_after_s));
  if (allow) response_.set(http::field::allow, allow);
  response_.keep_alive(keep_alive_);
  response_.body() = std::move(body);
  response_.prepare_payload();
  stream_.expires_after(core_->options.io_timeout);
  http::async_write(stream_, response_, beast::bind_front_handler(&Session::onWrite, shared_from_this()));
}

void Session::onWrite(beast::error_code ec, size_t) {
  if (ec) return closeNow();
  if (!keep_alive_ || stopping_) return lingerClose();
  readHeader();
}

void Session::lingerClose() {
  state_ = State::kClosing;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (!body_unread_) return closeNow();
  // Closing with unread bytes makes the kernel send a reset, which can destroy the answer before
  // the client reads it: drop what still arrives, briefly and boundedly.
  linger_buffer_.resize(16 * 1024);
  stream_.expires_after(kLingerTime);
  stream_.async_read_some(asio::buffer(linger_buffer_),
                          beast::bind_front_handler(&Session::onLinger, shared_from_this()));
}

void Session::onLinger(beast::error_code ec, size_t bytes) {
  lingered_ += bytes;
  if (ec || lingered_ >= kMaxLingerBytes || stopping_) return closeNow();
  stream_.async_read_some(asio::buffer(linger_buffer_),
                          beast::bind_front_handler(&Session::onLinger, shared_from_this()));
}

void Session::closeNow() {
  state_ = State::kClosing;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void Session::onStop() {
  stopping_ = true;
  switch (state_) {
    case State::kReading:
    case State::kClosing: return closeNow();  // idle (or half-read) connections close; their pending read aborts
    case State::kWaiting:
      keep_alive_ = false;  // the answer goes out with Connection: close
      return;
    case State::kWriting: return;  // onWrite closes
  }
}

}  // namespace

void Core::startAccept() {
  acceptor.async_accept(asio::make_strand(ioc), beast::bind_front_handler(&Core::onAccept, this));
}

void Core::onAccept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor.is_open()) return;  // stop() closed it
  if (ec) {
    // E.g. out of file descriptors: wait a little instead of spinning.
    log::warn("reward http: accept failed: {}", ec.message());
    accept_backoff.expires_after(std::chrono::milliseconds(100));
    accept_backoff.async_wait([this](beast::error_code) {
      if (acceptor.is_open()) startAccept();
    });
    return;
  }
  std::shared_ptr<Session> session;
  {
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    const std::string address = peer_ec ? std::string("?") : peer.address().to_string();
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) return;  // `socket` closes here
    size_t& from_address = per_address[address];
    if (sessions.size() >= options.max_connections) {
      log::warn("reward http: {} connections open; refusing one more", sessions.size());
    } else if (from_address >= options.max_connections_per_address) {
      // NOTE [Slow clients]; debug, not warn: a flood would flood the log too.
      log::debug("reward http: {} connections from {}; refusing one more", from_address, address);
    } else {
      const uint64_t id = next_id++;
      ++from_address;
      session = std::make_shared<Session>(this, id, address, std::move(socket));
      sessions.emplace(id, session);
    }
    if (from_address == 0) per_address.erase(address);
  }
  if (session) session->start();
  startAccept();
}

namespace {

tcp::endpoint bindEndpoint(asio::io_context& ioc, const std::string& host, uint16_t port) {
  const std::string name = host == "*" ? "0.0.0.0" : host;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(name, ec);
  if (!ec) return tcp::endpoint(address, port);
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(name, std::to_string(port), tcp::resolver::passive, ec);
  GRAMRL_CHECK(!ec && !results.empty(), ConfigError,
               "launch.transport.bind_host: cannot resolve '{}' for the reward HTTP endpoint: {}", host,
               ec ? ec.message() : "no addresses");
  return results.begin()->endpoint();
}

}  // namespace

HttpRewardEndpoint::HttpRewardEndpoint(HttpEndpointOptions options, ScoreSink& sink) {
  GRAMRL_CHECK(options.io_threads >= 1, ConfigError, "reward http endpoint: io_threads must be >= 1, got {}",
               options.io_threads);
  core_ = std::make_shared<Core>(std::move(options), sink);
  Core& core = *core_;
  const tcp::endpoint endpoint = bindEndpoint(core.ioc, core.options.bind_host, core.options.port);
  const std::string where = fmt::format("{}:{}", core.options.bind_host, core.options.port);
  boost::system::error_code ec;
  core.acceptor.open(endpoint.protocol(), ec);
  GRAMRL_CHECK(!ec, SystemError, "reward http endpoint: cannot open a socket for {}: {}", where, ec.message());
  core.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  core.acceptor.bind(endpoint, ec);
  GRAMRL_CHECK(!ec, SystemError, "reward http endpoint: cannot bind {}: {}", where, ec.message());
  core.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  GRAMRL_CHECK(!ec, SystemError, "reward http endpoint: cannot listen on {}: {}", where, ec.message());
  port_ = core.acceptor.local_endpoint().port();

  core.startAccept();
  for (int i = 0; i < core.options.io_threads; ++i) {
    core.threads.emplace_back([c = &core] {
      // Handlers catch what they expect; anything else is logged and the loop goes on, so a
      // bad request can never take the server down.
      for (;;) {
        try {
          c->ioc.run();
          return;
        } catch (const std::exception& e) {
          log::error("reward http: unexpected exception in an io handler: {}", e.what());
        }
      }
    });
  }
  log::info("reward http endpoint listening on http://{}:{} (POST /get_reward, GET /health)", core.options.bind_host,
            port_);
}

HttpRewardEndpoint::~HttpRewardEndpoint() {
  stop();
  core_.reset();  // a late ScoreSink callback may still hold the Core: NOTE [HTTP endpoint lifetimes]
}

uint16_t HttpRewardEndpoint::port() const { return port_; }

void HttpRewardEndpoint::stop() {
  Core& core = *core_;
  std::lock_guard<std::mutex> stop_lock(core.stop_mu);
  if (core.stopped) return;
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(core.mu);
    core.stopping = true;
    for (auto& entry : core.sessions) {
      if (auto session = entry.second.lock()) open.push_back(std::move(session));
    }
  }
  asio::post(core.acceptor.get_executor(), [c = &core] {
    beast::error_code ignored;
    c->acceptor.close(ignored);
    c->accept_backoff.cancel();
  });
  for (auto& session : open) {
    auto executor = session->executor();
    asio::post(executor, [s = std::move(session)] { s->onStop(); });
  }
  open.clear();
  {
    std::unique_lock<std::mutex> lock(core.mu);
    const bool drained = core.cv.wait_for(lock, core.options.drain_timeout, [&] { return core.sessions.empty(); });
    if (!drained) {
      log::warn("reward http: {} connections still open after {} ms; closing them", core.sessions.size(),
                core.options.drain_timeout.count());
    }
  }
  core.ioc.stop();
  for (auto& thread : core.threads) {
    if (thread.joinable()) thread.join();
  }
  core.stopped = true;
  log::info("reward http endpoint on port {} stopped", port_);
}

}  // namespace gramrl::reward
