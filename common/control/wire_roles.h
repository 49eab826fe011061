// The role names of the role plan ("learner", "actor", "reward") and schemas/control.capnp Role.
// Internal to common/control.
#pragma once

#include <string>

#include "common/core/errors.h"
#include "schemas/control.capnp.h"

namespace gramrl::control {

inline wire::Role wireRole(const std::string& role) {
  if (role == "learner") return wire::Role::LEARNER;
  if (role == "actor") return wire::Role::ACTOR;
  if (role == "reward") return wire::Role::REWARD_SERVER;
  GRAMRL_CHECK(false, ConfigError, "control channel: unknown role '{}' (expected learner, actor or reward)", role);
  return wire::Role::LAUNCHER;
}

inline std::string roleName(wire::Role role) {
  switch (role) {
    case wire::Role::LEARNER: return "learner";
    case wire::Role::ACTOR: return "actor";
    case wire::Role::REWARD_SERVER: return "reward";
    case wire::Role::LAUNCHER: return "launcher";
  }
  return "";
}

}  // namespace gramrl::control
