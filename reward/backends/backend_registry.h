// makeRewardBackend: the one place that turns the `reward:` section of the YAML into a backend
// (NOTE [Reward backends] in reward_backend.h). Backends are looked up by reward.backend in a
// table of factories (backend_registry.cc, NOTE [Adding a reward backend]).
//
// Threads: free functions, independent per call. Ownership: the caller owns the backend.
// Blocking: loads the reward model(s) (seconds for a large checkpoint). Throws ConfigError for an
// unknown backend (listing the known ones), a malformed device, a bad composite (unknown
// component, rule:<unknown check>, weights that do not match components), and whatever the
// backend's constructor throws (ConfigError, DataError for unreadable checkpoints).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config/experiment_config.h"
#include "reward/backends/reward_backend.h"

namespace gramrl::reward {

// `device` is "cpu", "cuda" or "cuda:<index>" (reward.server.devices); model backends run in
// bfloat16 on CUDA and float32 on the CPU.
std::unique_ptr<RewardBackend> makeRewardBackend(const RewardOptions& options, const std::string& device);

// The registered names, in registration order: gram, bradley_terry, rule, composite.
std::vector<std::string> rewardBackendNames();

}  // namespace gramrl::reward
