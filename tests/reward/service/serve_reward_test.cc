// serveReward (the main loop of `gramrl reward serve`) in this process with the scripted backend:
// with reward.server.http_port set it starts the OpenRLHF-compatible HTTP endpoint next to the
// ZeroMQ server, and an OpenRLHF-shaped POST /get_reward gets the backend's scores in order;
// SIGTERM drains it and it returns 0. Also: the config's curve_keys_dir reaches the server
// settings and the client options.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "reward/service/reward_client.h"
#include "reward/service/reward_server.h"
#include "tests/reward/service/fake_backend.h"
#include "tests/support/temp_dir.h"

namespace gramrl::reward {
namespace {

namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;
using testing::FakeBackend;
using testing::FakeState;

// A TCP port that was free a moment ago (bind port 0, read it, close).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// POST /get_reward on a fresh connection; retries the connect until the endpoint listens or
// `served` is ready (serveReward returned). No time limit: the ctest timeout bounds it.
std::optional<http::response<http::string_body>> post(int port, const std::string& body,
                                                      const std::future<int>& served) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  for (;;) {
    boost::system::error_code ec;
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)), ec);
    if (!ec) break;
    socket.close();
    if (served.wait_for(std::chrono::milliseconds(5)) == std::future_status::ready) return std::nullopt;
  }
  http::request<http::string_body> request(http::verb::post, "/get_reward", 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return response;
}

ExperimentConfig configWith(const gramrl::testing::TempDir& dir, const std::string& server) {
  const std::string path = dir.file("reward.yaml");
  std::ofstream(path) << "experiment: {name: reward, output_dir: " << dir.file("runs") << "}\n"
                      << "reward:\n  backend: rule\n  rule: {check: world_gold}\n"
                      << "  server: " << server << "\n";
  return loadExperimentConfig(path);
}

TEST(ServeRewardTest, HttpEndpointAnswersOpenRlhfRequestsWithTheBackendScoresInOrder) {
  gramrl::testing::TempDir dir("serve-reward");
  const int http_port = freePort();
  const ExperimentConfig config =
      configWith(dir, "{port: 0, http_port: " + std::to_string(http_port) + ", max_wait_ms: 1, drain_timeout_s: 60}");
  auto state = std::make_shared<FakeState>();
  std::packaged_task<int()> task([&config, state] {
    return serveReward(config, 0,
                       [state](const std::string& device) { return std::make_unique<FakeBackend>(state, device); });
  });
  std::future<int> served = task.get_future();
  std::thread thread(std::move(task));

  // OpenRLHF's remote_rm_fn body: query = prompt + response; the endpoint cuts the prompt off,
  // so the fake backend sees the numbers and scores each by its value.
  const std::vector<std::string> prompts{"<|im_start|>user\nA?<|im_end|>\n<|im_start|>assistant\n",
                                         "<|im_start|>user\nB?<|im_end|>\n<|im_start|>assistant\n",
                                         "<|im_start|>user\nC?<|im_end|>\n<|im_start|>assistant\n"};
  const std::vector<std::string> responses{"2.5", "-1", "40"};
  Json body;
  for (size_t i = 0; i < prompts.size(); ++i) {
    body["query"].push_back(prompts[i] + responses[i]);
    body["prompts"].push_back(prompts[i]);
    body["labels"].push_back("");
  }
  const auto response = post(http_port, body.dump(), served);
  ASSERT_TRUE(response.has_value()) << "serveReward returned before its HTTP endpoint answered";
  EXPECT_EQ(response->result_int(), 200) << response->body();
  const Json reply = Json::parse(response->body());
  EXPECT_EQ(reply.at("rewards").get<std::vector<double>>(), std::vector<double>({2.5, -1, 40}));
  EXPECT_EQ(reply.at("scores").get<std::vector<double>>(), std::vector<double>({2.5, -1, 40}));
  // The backend saw the responses without their prompts, in order.
  const auto calls = state->calls();
  std::vector<std::string> seen;
  for (const auto& call : calls) seen.insert(seen.end(), call.texts.begin(), call.texts.end());
  EXPECT_EQ(seen, responses);

  // serveReward's SIGTERM handler is installed before the HTTP endpoint starts.
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  thread.join();
  EXPECT_EQ(served.get(), 0);
}

TEST(ServeRewardTest, CurveKeysDirReachesServerSettingsAndClientOptions) {
  gramrl::testing::TempDir dir("serve-reward");
  const ExperimentConfig config = configWith(dir, "{port: 7000, curve_keys_dir: /keys/here}");
  EXPECT_EQ(RewardServerSettings::fromConfig(config, 0).curve_keys_dir, "/keys/here");
  const RewardClientOptions client = RewardClientOptions::fromConfig(config);
  EXPECT_EQ(client.curve_keys_dir, "/keys/here");
  EXPECT_EQ(client.endpoints, std::vector<std::string>({"tcp://127.0.0.1:7000"}));
  const ExperimentConfig plain = configWith(dir, "{port: 7000}");
  EXPECT_EQ(RewardServerSettings::fromConfig(plain, 0).curve_keys_dir, "");
  EXPECT_EQ(RewardClientOptions::fromConfig(plain).curve_keys_dir, "");
}

}  // namespace
}  // namespace gramrl::reward
