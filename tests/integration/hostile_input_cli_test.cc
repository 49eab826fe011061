// Issue 15, through the real `gramrl` binary as a careless or hostile user runs it: text
// arguments reach the program byte for byte, every user-given size has a bound checked before
// any work, and small hostile configs fail fast. Each case uses other inputs than the issue's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/files.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

using namespace gramrl::testing;
using Json = nlohmann::json;

namespace transport_hold {
// A TCP listener on 127.0.0.1 at a port the kernel picks, held for the test's life.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 && ::listen(fd_, 1) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};
}  // namespace transport_hold

class HostileCliTest : public ::testing::Test {
 protected:
  // Runs gramrl; returns its exit code, with stdout in out_ and stderr in err_.
  int gramrl(const std::vector<std::string>& args) {
    const int rc = wait(start(binaryPath("GRAMRL_BIN", GRAMRL_BIN), args, dir_.file("err"), dir_.file("out")),
                        std::chrono::seconds(120));
    out_ = slurp(dir_.file("out"));
    err_ = slurp(dir_.file("err"));
    return rc;
  }
  std::vector<Json> jsonLines() const {
    std::vector<Json> rows;
    size_t at = 0;
    while (at < out_.size()) {
      const size_t end = out_.find('\n', at);
      rows.push_back(Json::parse(out_.substr(at, end - at)));
      at = end == std::string::npos ? out_.size() : end + 1;
    }
    return rows;
  }

  TempDir dir_{"grl-hostile"};
  std::string out_, err_;
};

TEST_F(HostileCliTest, TokenizeTextsArriveByteForByte) {
  const std::vector<std::string> texts{"[x,y,z]", "[]", "-q starts with a dash", "{k: v}", "[<|user|>]", "a,b", "-h"};
  std::vector<std::string> args{"tokenize", "-t", "builtin:bytes", "--jsonl"};
  args.insert(args.end(), texts.begin(), texts.end() - 1);
  args.push_back("--");  // "-h" alone is the help flag; after "--" it is text
  args.push_back(texts.back());
  ASSERT_EQ(gramrl(args), 0) << err_;
  const auto rows = jsonLines();
  ASSERT_EQ(rows.size(), texts.size()) << out_;
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(rows[i].at("text"), texts[i]);
}

TEST_F(HostileCliTest, GenerateTakesABracketedPromptAsOnePrompt) {
  ASSERT_EQ(gramrl({"generate", "-m", "builtin:tiny", "--max-new-tokens", "2", "--jsonl", "[Sum 3,4]", "-x y"}), 0)
      << err_;
  const auto rows = jsonLines();
  ASSERT_EQ(rows.size(), 2u) << out_;
  EXPECT_EQ(rows[0].at("prompt"), "[Sum 3,4]");
  EXPECT_EQ(rows[1].at("prompt"), "-x y");
}

TEST_F(HostileCliTest, SystemWithoutAChatTemplateIsAnError) {
  EXPECT_EQ(gramrl({"tokenize", "-t", "builtin:bytes", "--system", "Be terse.", "hello"}), 2);
  EXPECT_NE(err_.find("--system needs --chat-template"), std::string::npos) << err_;
  EXPECT_EQ(out_, "");
  EXPECT_EQ(gramrl({"generate", "-m", "builtin:tiny", "--system", "Be terse.", "hello"}), 2);
  EXPECT_NE(err_.find("--system needs --chat-template"), std::string::npos) << err_;
}

TEST_F(HostileCliTest, SizesPastTheModelAreRefusedNamingTheFlag) {
  // builtin:tiny has a context of 2048 tokens.
  EXPECT_EQ(gramrl({"generate", "-m", "builtin:tiny", "--max-new-tokens", "5000", "hi"}), 2);
  EXPECT_NE(err_.find("use --max-new-tokens"), std::string::npos) << err_;
  // Prompts are left-truncated to --max-prompt-tokens (default 512) as the trainers do; a limit past
  // the model's context is refused naming the prompt.
  EXPECT_EQ(gramrl({"generate", "-m", "builtin:tiny", "--max-new-tokens", "4", "--max-prompt-tokens", "4000",
                    std::string(3000, 'z')}),
            2);
  EXPECT_NE(err_.find("prompt 0 is"), std::string::npos) << err_;
  EXPECT_EQ(out_, "");
  EXPECT_EQ(gramrl({"generate", "-m", "builtin:tiny", "--max-new-tokens", "4", std::string(3000, 'z')}), 0) << err_;
}

TEST_F(HostileCliTest, CountsHaveBounds) {
  EXPECT_EQ(gramrl({"gram", "eval", dir_.file("pairs.jsonl"), "-m", "builtin:tiny", "--threads", "250000"}), 2);
  EXPECT_NE(err_.find("--threads: expected 0 (every core) to "), std::string::npos) << err_;

  const std::string config = dir_.file("c.yaml");
  spit(config, "reward: {backend: rule, server: {max_request_items: 300}}\n");
  for (const char* batch : {"0", "301"}) {
    EXPECT_EQ(gramrl({"reward", "score", config, "--data", dir_.file("none.jsonl"), "--batch", batch}), 2) << batch;
    EXPECT_NE(err_.find("--batch: expected 1 to 300 items per request"), std::string::npos) << err_;
  }
}

TEST_F(HostileCliTest, AConfigBombFailsFastWithItsLocation) {
  // Ten levels, each a map of seven aliases of the level before: 7^10 (about 3e8) values.
  std::string bomb = "a0: &a0 [x]\n";
  for (int level = 1; level <= 10; ++level) {
    bomb += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 7; ++i) bomb += (i ? ",*a" : "*a") + std::to_string(level - 1);
    bomb += "]\n";
  }
  spit(dir_.file("bomb.yaml"), bomb);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(gramrl({"config", "check", dir_.file("bomb.yaml")}), 2);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(err_.find("expands to more than 100000 values"), std::string::npos) << err_;
  EXPECT_NE(err_.find(dir_.file("bomb.yaml") + ":"), std::string::npos) << err_;
  EXPECT_LT(seconds, 20.0);
}

// Issue 15: a port another process holds fails `config check` naming the key (NOTE [Ports are
// checked before anything starts]); --no-port-check skips the bind test.
TEST_F(HostileCliTest, ConfigCheckReportsAHeldPortNamingTheKey) {
  transport_hold::Listener held;
  ASSERT_GT(held.port(), 0);
  const std::string config = dir_.file("ports.yaml");
  spit(config, "reward:\n  backend: rule\n  server:\n    port: 0\n");
  const std::string override = "reward.server.http_port=" + std::to_string(held.port());
  EXPECT_EQ(gramrl({"config", "check", "--quiet", config, override}), 2);
  EXPECT_NE(err_.find("error: reward.server.http_port: port " + std::to_string(held.port()) +
                      " on 127.0.0.1 (the HTTP endpoint of reward replica 0) is in use by another process"),
            std::string::npos)
      << err_;
  EXPECT_EQ(gramrl({"config", "check", "--quiet", "--no-port-check", config, override}), 0) << err_;
  EXPECT_EQ(gramrl({"config", "check", "--quiet", config}), 0) << err_;
}

}  // namespace
}  // namespace gramrl
