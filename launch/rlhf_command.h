// `gramrl rlhf CONFIG [section.key=value ...]`: online RLHF on this machine with reward servers,
// rollout actors and learner ranks as separate processes (launch/role_plan.h), supervised by
// the local launcher (NOTE [Process lifetimes] in local_launcher.h). Rerunning the same command
// resumes from the newest checkpoint.
#pragma once

#include <string>
#include <vector>

namespace gramrl {

struct RlhfArgs {
  std::string config;
  std::vector<std::string> overrides;
};

int runRlhf(const RlhfArgs& args);

}  // namespace gramrl
