// gramrl reward keygen DIR: a new CurveZMQ key directory for the reward channel
// (NOTE [CurveZMQ] in common/transport/curve.h). Torch-free.
#pragma once

#include <string>

namespace gramrl::cli {

// Writes DIR/server.key, DIR/server.key_secret, DIR/client.key, DIR/client.key_secret and
// DIR/authorized_clients/client.key (secrets 0600, each file written atomically), then prints on
// stdout which files go where. Returns 0.
// Throws ConfigError when DIR already holds keys (nothing is overwritten) or libzmq lacks CURVE;
// SystemError when a file cannot be written.
int runRewardKeygen(const std::string& dir);

}  // namespace gramrl::cli
