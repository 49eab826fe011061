#include "launch/keygen_command.h"

#include <fmt/core.h>

#include "common/transport/curve.h"

namespace gramrl::cli {

int runRewardKeygen(const std::string& dir) {
  transport::writeCurveKeyDir(dir);
  fmt::print(
      "wrote CurveZMQ keys to {0}\n"
      "  reward server: {0}/server.key, {0}/server.key_secret, {0}/authorized_clients/\n"
      "                 (set reward.server.curve_keys_dir: {0})\n"
      "  each client:   {0}/server.key, {0}/client.key, {0}/client.key_secret\n"
      "  more clients:  put their public keys in {0}/authorized_clients/NAME.key\n"
      "  keep *.key_secret private (mode 0600); never copy server.key_secret to a client\n",
      dir);
  return 0;
}

}  // namespace gramrl::cli
