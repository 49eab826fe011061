// The OpenRLHF-compatible HTTP endpoint (reward/service/http_endpoint.h) against a fake
// ScoreSink that scores each response by its UTF-8 length, on a worker thread as the real
// batcher does. Clients are raw TCP sockets speaking HTTP/1.1 through Beast's parser, and one
// test sends the exact bytes python-requests writes for OpenRLHF's remote_rm_fn.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/config/experiment_config.h"
#include "reward/service/http_endpoint.h"

namespace gramrl::reward {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;
using Response = http::response<http::string_body>;

// Scores each response by its length in bytes, on its own worker thread; or answers with a
// scripted error; or holds requests until release().
class FakeSink : public ScoreSink {
 public:
  FakeSink() : worker_([this] { run(); }) {}
  ~FakeSink() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      held_ = false;
    }
    cv_.notify_all();
    worker_.join();
  }

  // Set before requests arrive.
  std::function<ScoreResult(const ScoreRequest&)> answer = lengthScores;
  std::optional<wire::ErrorCode> refuse_inline;  // answer at once from submit(), like a full queue
  uint32_t retry_after_ms = 0;

  static ScoreResult lengthScores(const ScoreRequest& request) {
    ScoreResult result;
    result.ok = true;
    for (const auto& item : request.pointwise) result.reply.scores.push_back(static_cast<double>(item.response.size()));
    return result;
  }
  static std::function<ScoreResult(const ScoreRequest&)> failWith(wire::ErrorCode code, std::string message) {
    return [code, message](const ScoreRequest&) {
      ScoreResult result;
      result.error_code = code;
      result.error = message;
      return result;
    };
  }

  void submit(ScoreRequest request, ScoreCallback done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(request);
      if (!refuse_inline) queue_.push_back({std::move(request), std::move(done)});
    }
    cv_.notify_all();
    if (refuse_inline) {
      ScoreResult result;
      result.error_code = *refuse_inline;
      result.error = "refused by the fake";
      result.retry_after_ms = retry_after_ms;
      done(std::move(result));
    }
  }

  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }
  void waitForSubmits(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return seen_.size() >= n; });
  }
  std::vector<ScoreRequest> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  struct Job {
    ScoreRequest request;
    ScoreCallback done;
  };

  void run() {
    for (;;) {
      Job job;
      bool shutting_down = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closed_ || (!queue_.empty() && !held_); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        shutting_down = closed_;
        queue_.pop_front();
      }
      job.done(shutting_down ? ScoreResult{} : answer(job.request));
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<ScoreRequest> seen_;
  bool held_ = false;
  bool closed_ = false;
  std::thread worker_;
};

// A blocking HTTP/1.1 client on one TCP connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void sendRaw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // As sendRaw, but a connection the server already closed is not an error.
  void trySendRaw(const std::string& bytes) {
    beast::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  Response read() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }
  Response send(http::verb method, const std::string& target, const std::string& body, bool keep_alive = true) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::content_type, "application/json");
    request.keep_alive(keep_alive);
    request.body() = body;
    request.prepare_payload();
    http::write(socket_, request);
    return read();
  }
  Response post(const std::string& body) { return send(http::verb::post, "/get_reward", body); }
  // True when the server closed the connection (EOF or reset) before sending anything more.
  bool closedByServer() {
    char byte;
    beast::error_code ec;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

Json bodyJson(const Response& response) { return Json::parse(response.body()); }

std::string errorOf(const Response& response) {
  const Json body = bodyJson(response);
  return body.at("error").get<std::string>();
}

class HttpEndpointTest : public ::testing::Test {
 protected:
  void start(HttpEndpointOptions options = {}) {
    endpoint_ = std::make_unique<HttpRewardEndpoint>(std::move(options), sink_);
  }
  uint16_t port() const { return endpoint_->port(); }
  Response post(const std::string& body) { return Client(port()).post(body); }

  FakeSink sink_;  // outlives the endpoint
  std::unique_ptr<HttpRewardEndpoint> endpoint_;
};

// Three samples as OpenRLHF's experience maker builds them: query = decode(prompt + response
// tokens, skip_special_tokens=False), the prompt after the chat template, labels from the data
// set; json.dumps escapes non-ASCII (é as \u00e9, an emoji as a surrogate pair).
const std::string kOpenRlhfBody =
    R"({"query": ["<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>", )"
    R"("<|im_start|>user\nCaf\u00e9?<|im_end|>\n<|im_start|>assistant\nOui, un caf\u00e9.<|im_end|>", )"
    R"("<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\n7 \ud83d\ude00<|endoftext|>"], )"
    R"("prompts": ["<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", )"
    R"("<|im_start|>user\nCaf\u00e9?<|im_end|>\n<|im_start|>assistant\n", )"
    R"("<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\n"], )"
    R"("labels": ["4", "caf\u00e9", "7"]})";

// The header python-requests 2.31 writes for requests.post(url, json=data, headers={"Content-Type":
// "application/json"}, timeout=180) (remote_rm_utils.py request_api_wrapper).
std::string openRlhfRequest(uint16_t port, const std::string& body) {
  return "POST /get_reward HTTP/1.1\r\n"
         "Host: 127.0.0.1:" +
         std::to_string(port) +
         "\r\n"
         "User-Agent: python-requests/2.31.0\r\n"
         "Accept-Encoding: gzip, deflate\r\n"
         "Accept: */*\r\n"
         "Connection: keep-alive\r\n"
         "Content-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST_F(HttpEndpointTest, AnswersOpenRlhfClientBytesWithRewardsInOrder) {
  start();
  Client client(port());
  const uint64_t before_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  client.sendRaw(openRlhfRequest(port(), kOpenRlhfBody));
  const Response response = client.read();

  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_TRUE(response.keep_alive());
  // Responses by hand: "4<|im_end|>" is 11 bytes; "Oui, un café.<|im_end|>" is 11 + 2 (é) + 1 +
  // 10 = 24; "7 😀<|endoftext|>" is 2 + 4 (U+1F600) + 13 = 19.
  const Json body = bodyJson(response);
  EXPECT_EQ(body.at("rewards"), Json::array({11.0, 24.0, 19.0}));
  EXPECT_EQ(body.at("scores"), Json::array({11.0, 24.0, 19.0}));

  const auto seen = sink_.seen();
  ASSERT_EQ(seen.size(), 1u);
  const ScoreRequest& request = seen[0];
  EXPECT_EQ(request.kind, RequestKind::kPointwise);
  ASSERT_EQ(request.pointwise.size(), 3u);
  EXPECT_EQ(request.pointwise[0].prompt, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(request.pointwise[0].response, "4<|im_end|>");
  EXPECT_EQ(request.pointwise[0].label, "4");
  EXPECT_EQ(request.pointwise[0].reference, "4");
  EXPECT_EQ(request.pointwise[1].prompt, "<|im_start|>user\nCaf\xc3\xa9?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(request.pointwise[1].response, "Oui, un caf\xc3\xa9.<|im_end|>");
  EXPECT_EQ(request.pointwise[1].label, "caf\xc3\xa9");
  EXPECT_EQ(request.pointwise[1].reference, "caf\xc3\xa9");
  EXPECT_EQ(request.pointwise[2].response, "7 \xf0\x9f\x98\x80<|endoftext|>");
  // The deadline is 180 s (score_deadline's default) after the request arrived.
  const uint64_t after_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  EXPECT_GE(request.deadline_unix_ms, before_ms + 180000);
  EXPECT_LE(request.deadline_unix_ms, after_ms + 180000);
}

TEST_F(HttpEndpointTest, BadRequestsGet400WithTheFieldNamed) {
  start();
  Response response = post(R"({"query": ["a", 7]})");
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_NE(errorOf(response).find("query[1]: expected a string, got number"), std::string::npos) << response.body();
  response = post(R"({"query": ["a", "b"], "prompts": ["a"]})");
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_NE(errorOf(response).find("prompts: 1 entries, but query has 2"), std::string::npos) << response.body();
  response = post("{not json");
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_NE(errorOf(response).find("body: not valid JSON"), std::string::npos) << response.body();
  response = post(R"({"prompts": []})");
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_NE(errorOf(response).find("query: missing"), std::string::npos) << response.body();
  // A request that is not HTTP at all.
  Client garbage(port());
  garbage.sendRaw("HELLO THERE\r\n\r\n");
  response = garbage.read();
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_TRUE(sink_.seen().empty());
}

TEST_F(HttpEndpointTest, EmptyQueryIsAnsweredWithoutTheSink) {
  start();
  const Response response = post(R"({"query": [], "prompts": [], "labels": []})");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(bodyJson(response), Json::parse(R"({"rewards": [], "scores": []})"));
  EXPECT_TRUE(sink_.seen().empty());
}

TEST_F(HttpEndpointTest, RoutesHealthUnknownPathsAndWrongMethods) {
  start();
  Client client(port());
  Response response = client.send(http::verb::get, "/health", "");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(bodyJson(response), Json::parse(R"({"status": "ok"})"));
  response = client.send(http::verb::get, "/get_reward", "");
  EXPECT_EQ(response.result_int(), 405u);
  EXPECT_EQ(response[http::field::allow], "POST");
  response = client.send(http::verb::post, "/health", "{}");
  EXPECT_EQ(response.result_int(), 405u);
  EXPECT_EQ(response[http::field::allow], "GET");
  response = client.send(http::verb::post, "/classify", R"({"query": ["a"]})");
  EXPECT_EQ(response.result_int(), 404u);
  EXPECT_NE(errorOf(response).find("no such path: /classify"), std::string::npos) << response.body();
  // A query string does not change the route.
  response = client.send(http::verb::post, "/get_reward?model=x", R"({"query": ["abc"]})");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(bodyJson(response).at("rewards"), Json::array({3.0}));
}

TEST_F(HttpEndpointTest, MapsSinkErrorsToStatusCodes) {
  struct Case {
    wire::ErrorCode code;
    unsigned status;
  };
  start();
  for (const Case& c : {Case{wire::ErrorCode::MALFORMED, 400}, Case{wire::ErrorCode::TOO_LARGE, 413},
                        Case{wire::ErrorCode::DEADLINE_EXCEEDED, 504}, Case{wire::ErrorCode::INTERNAL, 500},
                        Case{wire::ErrorCode::UNSUPPORTED, 501}, Case{wire::ErrorCode::SHUTTING_DOWN, 503}}) {
    sink_.answer = FakeSink::failWith(c.code, "scripted failure");
    const Response response = post(R"({"query": ["a"]})");
    EXPECT_EQ(response.result_int(), c.status) << "code " << static_cast<int>(c.code);
    EXPECT_EQ(errorOf(response), "scripted failure");
    if (c.code == wire::ErrorCode::SHUTTING_DOWN) {
      EXPECT_FALSE(response.keep_alive());
    }
  }
  // A backend answering the wrong number of scores, or NaN, is the server's fault.
  sink_.answer = [](const ScoreRequest&) {
    ScoreResult result;
    result.ok = true;
    result.reply.scores = {1.0, 2.0};
    return result;
  };
  Response response = post(R"({"query": ["a"]})");
  EXPECT_EQ(response.result_int(), 500u);
  EXPECT_NE(errorOf(response).find("2 scores for 1 items"), std::string::npos) << response.body();
  sink_.answer = [](const ScoreRequest&) {
    ScoreResult result;
    result.ok = true;
    result.reply.scores = {std::nan("")};
    return result;
  };
  response = post(R"({"query": ["a"]})");
  EXPECT_EQ(response.result_int(), 500u);
}

TEST_F(HttpEndpointTest, OverloadedIs503WithRetryAfterInWholeSeconds) {
  start();
  sink_.refuse_inline = wire::ErrorCode::OVERLOADED;
  sink_.retry_after_ms = 1500;
  Response response = post(R"({"query": ["a"]})");
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response[http::field::retry_after], "2");
  sink_.retry_after_ms = 0;  // no hint: still at least one second
  response = post(R"({"query": ["a"]})");
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response[http::field::retry_after], "1");
}

TEST_F(HttpEndpointTest, TooManyItemsIs413) {
  HttpEndpointOptions options;
  options.limits.max_items = 2;
  start(options);
  const Response response = post(R"({"query": ["a", "b", "c"]})");
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_NE(errorOf(response).find("query: 3 items, more than the limit of 2"), std::string::npos) << response.body();
  EXPECT_TRUE(sink_.seen().empty());
}

TEST_F(HttpEndpointTest, OversizedBodyIs413BeforeTheBodyIsRead) {
  HttpEndpointOptions options;
  options.max_body_bytes = 64 * 1024;
  start(options);
  Client client(port());
  // Announce 100 MiB and send 4 KiB of it: the answer must come from the header alone (were the
  // server waiting for the body, this read would never return).
  client.sendRaw(
      "POST /get_reward HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 104857600\r\n\r\n{\"query\": [\"" +
      std::string(4096, 'x'));
  const Response response = client.read();
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_NE(errorOf(response).find("body: 104857600 bytes, more than the limit of 65536"), std::string::npos)
      << response.body();
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.closedByServer());
  EXPECT_TRUE(sink_.seen().empty());
}

TEST_F(HttpEndpointTest, ExpectContinueIsAnsweredBeforeTheBody) {
  start();
  Client client(port());
  // curl sends Expect: 100-continue for bodies over 1 KiB and waits for the interim answer.
  const std::string body = R"({"query": ["P: xy"], "prompts": ["P: "]})";
  client.sendRaw(
      "POST /get_reward HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(client.read().result_int(), 100u);
  client.sendRaw(body);
  const Response response = client.read();
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(bodyJson(response).at("rewards"), Json::array({2.0}));
}

TEST_F(HttpEndpointTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  Client client(port());
  Response first = client.post(R"({"query": ["Q: A", "Q: BB"], "prompts": ["Q: ", "Q: "]})");
  ASSERT_EQ(first.result_int(), 200u);
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(bodyJson(first).at("rewards"), Json::array({1.0, 2.0}));
  Response second = client.post(R"({"query": ["xyz"]})");
  ASSERT_EQ(second.result_int(), 200u);
  EXPECT_EQ(bodyJson(second).at("rewards"), Json::array({3.0}));
  // Connection: close is honoured.
  Response last = client.send(http::verb::post, "/get_reward", R"({"query": ["ab"]})", /*keep_alive=*/false);
  EXPECT_EQ(bodyJson(last).at("rewards"), Json::array({2.0}));
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(HttpEndpointTest, ConcurrentClientsEachGetTheirOwnScores) {
  start();
  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client(port());
      for (int r = 0; r < kRequests; ++r) {
        // Response lengths t + 1 and r + 1 identify the request.
        const Json body = {{"query", {std::string(t + 1, 'a'), std::string(r + 1, 'b')}}};
        const Response response = client.post(body.dump());
        const bool ok = response.result_int() == 200 &&
                        bodyJson(response).at("rewards") == Json::array({double(t + 1), double(r + 1)});
        if (!ok) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "client " << t;
  EXPECT_EQ(sink_.seen().size(), size_t{kThreads * kRequests});
}

TEST_F(HttpEndpointTest, StalledClientDoesNotBlockOthersAndTimesOut) {
  HttpEndpointOptions options;
  options.io_threads = 1;
  options.io_timeout = std::chrono::milliseconds(300);
  options.header_timeout = std::chrono::milliseconds(300);
  start(options);
  Client stalled(port());
  stalled.sendRaw("POST /get_reward HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len");  // and nothing more
  const Response response = post(R"({"query": ["abcd"]})");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(bodyJson(response).at("rewards"), Json::array({4.0}));
  // The stalled connection is closed by io_timeout (this read returns only then).
  EXPECT_TRUE(stalled.closedByServer());
}

// NOTE [Slow clients]: many slow clients from one address (a bounded number, each sending its
// header a byte at a time, for a bounded time, on loopback only) do not lock out a client from
// another address; those over the per-address cap are closed at once, and the rest are closed
// when header_timeout passes.
TEST_F(HttpEndpointTest, SlowClientsFromOneAddressDoNotLockOthersOut) {
  HttpEndpointOptions options;
  options.io_threads = 1;
  options.max_connections = 10;  // the slow clients alone could fill it
  options.max_connections_per_address = 8;
  options.header_timeout = std::chrono::milliseconds(1500);
  start(options);
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::make_unique<Client>(port()));
    slow.back()->trySendRaw("P");
  }
  for (const char* more : {"O", "S", "T"}) {
    for (auto& c : slow) c->trySendRaw(more);  // a byte at a time, never a whole header
  }
  // 10 slow connections from 127.0.0.1 but room for 8 of them: a normal client from another
  // loopback address still finds a slot, and is served at once.
  asio::io_context ioc;
  tcp::socket normal(ioc);
  normal.open(tcp::v4());
  normal.bind(tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
  normal.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()));
  http::request<http::string_body> request(http::verb::get, "/health", 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(normal, request);
  beast::flat_buffer buffer;
  Response response;
  http::read(normal, buffer, response);
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500))
      << "the normal client waited for the slow ones";
  // Every slow connection ends within header_timeout (plus slack), none was answered.
  int closed = 0;
  for (auto& c : slow) closed += c->closedByServer() ? 1 : 0;
  EXPECT_EQ(closed, 10);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

// Issue 15: the endpoint's limits come from reward.server.http.* (httpEndpointOptions), and each
// one acts: a per-address cap of 2, a 1 KiB header limit named by its key, a short header timeout.
TEST_F(HttpEndpointTest, LimitsFromTheConfigKeysAreTheOnesEnforced) {
  RewardServerOptions server;
  server.http.io_threads = 1;
  server.http.max_connections = 3;
  server.http.max_connections_per_address = 2;
  server.http.max_header_kb = 1;
  server.http.header_timeout_ms = 400;
  server.http.io_timeout_ms = 700;
  server.http.score_deadline_ms = 0;
  TransportOptions transport;
  const HttpEndpointOptions options = httpEndpointOptions(server, transport);
  EXPECT_EQ(options.io_threads, 1);
  EXPECT_EQ(options.max_connections, 3u);
  EXPECT_EQ(options.max_connections_per_address, 2u);
  EXPECT_EQ(options.max_header_bytes, 1024u);
  EXPECT_EQ(options.header_timeout, std::chrono::milliseconds(400));
  EXPECT_EQ(options.io_timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(options.score_deadline, std::chrono::milliseconds(0));
  start(options);

  // Two idle connections from 127.0.0.1 fill its share: a third from it is closed at once, while
  // a request on one of the two is served; both idle ones close after header_timeout_ms.
  const auto started = std::chrono::steady_clock::now();
  Client first(port());
  Client second(port());
  first.trySendRaw("G");
  second.trySendRaw("G");
  Client third(port());
  EXPECT_TRUE(third.closedByServer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(400));
  first.sendRaw("ET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(first.read().result_int(), 200u);
  EXPECT_TRUE(first.closedByServer());
  EXPECT_TRUE(second.closedByServer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));

  // A header over 1 KiB: 431 naming the key.
  Client big(port());
  big.sendRaw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(1500, 'p') + "\r\n\r\n");
  const Response response = big.read();
  EXPECT_EQ(response.result_int(), 431u);
  EXPECT_NE(errorOf(response).find("reward.server.http.max_header_kb"), std::string::npos) << response.body();
}

TEST_F(HttpEndpointTest, StopAnswersInFlightRequestsAndClosesIdleConnections) {
  start();
  Client idle(port());
  ASSERT_EQ(idle.post(R"({"query": ["a"]})").result_int(), 200u);  // now an idle keep-alive connection

  sink_.hold();
  std::optional<Response> in_flight;
  std::thread requester([&] { in_flight = Client(port()).post(R"({"query": ["abc", "de"]})"); });
  sink_.waitForSubmits(2);  // the second request is with the sink
  std::thread stopper([&] { endpoint_->stop(); });
  // Wait until stop() has closed the listening socket: connections are then refused.
  for (;;) {
    try {
      Client probe(port());
    } catch (const boost::system::system_error&) {
      break;
    }
    std::this_thread::yield();
  }
  EXPECT_TRUE(idle.closedByServer());
  sink_.release();
  requester.join();
  stopper.join();
  ASSERT_TRUE(in_flight.has_value());
  EXPECT_EQ(in_flight->result_int(), 200u);
  EXPECT_EQ(bodyJson(*in_flight).at("rewards"), Json::array({3.0, 2.0}));
  EXPECT_FALSE(in_flight->keep_alive());
  endpoint_->stop();  // idempotent
}

TEST_F(HttpEndpointTest, BindFailuresAreSystemErrors) {
  start();
  HttpEndpointOptions same_port;
  same_port.port = port();
  EXPECT_THROW(HttpRewardEndpoint(same_port, sink_), SystemError);
  HttpEndpointOptions foreign;
  foreign.bind_host = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  EXPECT_THROW(HttpRewardEndpoint(foreign, sink_), SystemError);
}

}  // namespace
}  // namespace gramrl::reward
