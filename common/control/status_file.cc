#include "common/control/status_file.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"

namespace gramrl::control {

void writeStatusFile(const std::string& path, const StatusFile& status) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& p : status.processes) {
    rows.push_back({{"name", p.name},
                    {"role", p.role},
                    {"index", p.index},
                    {"pid", p.pid},
                    {"running", p.running},
                    {"restarts", p.restarts},
                    {"host", p.host},
                    {"worker_pid", p.worker_pid},
                    {"state", p.state},
                    {"step", p.step},
                    {"policy_version", p.policy_version},
                    {"detail", p.detail},
                    {"beats", p.beats},
                    {"seconds_since_beat", p.seconds_since_beat},
                    {"hung", p.hung}});
  }
  const nlohmann::json j = {{"updated_unix_ms", status.updated_unix_ms},
                            {"launcher_pid", status.launcher_pid},
                            {"launcher_host", status.launcher_host},
                            {"heartbeat_timeout_s", status.heartbeat_timeout_s},
                            {"processes", rows}};
  checkpoint::writeFileAtomically(path, j.dump(1) + "\n");
}

StatusFile readStatusFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GRAMRL_CHECK(in.good(), ConfigError, "{}: no status file (is this a run directory of gramrl rlhf?)", path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  GRAMRL_CHECK(j.is_object() && j.contains("processes") && j["processes"].is_array(), ConfigError,
               "{}: not a gramrl status file", path);
  StatusFile s;
  try {
    s.updated_unix_ms = j.value("updated_unix_ms", int64_t{0});
    s.launcher_pid = j.value("launcher_pid", int64_t{0});
    s.launcher_host = j.value("launcher_host", std::string());
    s.heartbeat_timeout_s = j.value("heartbeat_timeout_s", 0.0);
    for (const auto& r : j["processes"]) {
      ProcessStatus p;
      p.name = r.at("name").get<std::string>();
      p.role = r.value("role", std::string());
      p.index = r.value("index", int64_t{0});
      p.pid = r.value("pid", -1);
      p.running = r.value("running", false);
      p.restarts = r.value("restarts", int64_t{0});
      p.host = r.value("host", std::string());
      p.worker_pid = r.value("worker_pid", int64_t{-1});
      p.state = r.value("state", std::string());
      p.step = r.value("step", int64_t{-1});
      p.policy_version = r.value("policy_version", int64_t{-1});
      p.detail = r.value("detail", std::string());
      p.beats = r.value("beats", uint64_t{0});
      p.seconds_since_beat = r.value("seconds_since_beat", -1.0);
      p.hung = r.value("hung", false);
      s.processes.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    GRAMRL_CHECK(false, ConfigError, "{}: malformed status file: {}", path, e.what());
  }
  return s;
}

namespace {

std::string orDash(int64_t v) { return v >= 0 ? std::to_string(v) : std::string("-"); }

}  // namespace

std::string formatStatusTable(const StatusFile& status, int64_t now_unix_ms) {
  std::string out = fmt::format("{:<12} {:<9} {:>8} {:<16} {:>6} {:>7} {:>8} {:>10}  {}\n", "PROCESS", "STATE", "PID",
                                "HOST", "STEP", "POLICY", "RESTARTS", "LAST BEAT", "DETAIL");
  for (const auto& p : status.processes) {
    const std::string state = p.running ? p.state : (p.hung ? "hung" : "exited");
    const std::string beat = p.seconds_since_beat >= 0 ? fmt::format("{:.1f} s", p.seconds_since_beat) : "-";
    out += fmt::format("{:<12} {:<9} {:>8} {:<16} {:>6} {:>7} {:>8} {:>10}  {}\n", p.name, state,
                       p.worker_pid > 0 ? std::to_string(p.worker_pid) : (p.pid > 0 ? std::to_string(p.pid) : "-"),
                       p.host.empty() ? "-" : p.host, orDash(p.step), orDash(p.policy_version), p.restarts, beat,
                       p.detail);
  }
  const double age = static_cast<double>(now_unix_ms - status.updated_unix_ms) / 1000.0;
  out += fmt::format(
      "updated {:.1f} s ago by the launcher (pid {} on {}); a process is hung after {:.0f} s without a beat\n", age,
      status.launcher_pid, status.launcher_host, status.heartbeat_timeout_s);
  return out;
}

std::vector<std::string> formatRoleLines(const std::vector<ProcessStatus>& processes) {
  struct Role {
    int64_t running = 0, total = 0, restarts = 0, step = -1, version = -1, min_version = -1;
    std::map<std::string, int> states;
  };
  std::map<std::string, Role> roles;
  for (const auto& p : processes) {
    Role& r = roles[p.role];
    r.total += 1;
    r.running += p.running ? 1 : 0;
    r.restarts += p.restarts;
    if (p.running) r.states[p.state] += 1;
    r.step = std::max(r.step, p.step);
    if (p.policy_version >= 0) {
      r.version = std::max(r.version, p.policy_version);
      r.min_version = r.min_version < 0 ? p.policy_version : std::min(r.min_version, p.policy_version);
    }
  }
  std::vector<std::string> lines;
  for (const auto& [name, r] : roles) {
    std::string states;
    for (const auto& [s, n] : r.states) states += fmt::format("{}{} {}", states.empty() ? "" : ", ", s, n);
    std::string line = fmt::format("{}: {} of {} running ({}), {} restart(s)", name, r.running, r.total,
                                   states.empty() ? "none" : states, r.restarts);
    if (r.step >= 0) line += fmt::format(", step {}", r.step);
    if (r.version >= 0) {
      line += r.min_version == r.version ? fmt::format(", policy v{}", r.version)
                                         : fmt::format(", policy v{}..v{}", r.min_version, r.version);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace gramrl::control
