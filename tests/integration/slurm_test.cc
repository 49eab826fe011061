// `gramrl rlhf ... launch.mode=slurm` on a real Slurm (scripts/slurm_test_cluster.sh, started by
// the ctest fixture slurm_cluster; SLURM_CONF points at it): the toy run as one heterogeneous job
// (one component per role) end to end; kill -9 of an actor task, a reward task and a learner task
// mid-run, and the job completes with no prompt lost (the learner ranks restart together from
// their checkpoint, NOTE [Learner restarts] in launch/local_launcher.h); scancel mid-run writes a
// checkpoint of the step reached, and the same command resumes from it. NOTE [Slurm jobs] in
// launch/slurm_script.h.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/files.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

using testing::Process;
using testing::slurp;
using testing::start;
using testing::wait;

constexpr std::chrono::seconds kJobTimeout(400);
constexpr std::chrono::milliseconds kPoll(50);

std::string gramrlBinary() { return testing::binaryPath("GRAMRL_BIN", GRAMRL_BIN); }

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* conf = std::getenv("SLURM_CONF");
    ASSERT_TRUE(conf != nullptr && *conf != '\0')
        << "SLURM_CONF is not set: run through ctest (fixture slurm_cluster) or scripts/slurm_test_cluster.sh start";
  }

  std::vector<std::string> rlhf(const std::string& name, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"rlhf",
                                  std::string(GRAMRL_SOURCE_DIR) + "/configs/rlhf-toy.yaml",
                                  "launch.mode=slurm",
                                  "experiment.output_dir=" + dir_.path(),
                                  "experiment.name=" + name,
                                  "launch.slurm.time_limit=00:10:00",
                                  "launch.slurm.stop_signal_s=0",
                                  "learner.tensorboard=false"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::string runDir(const std::string& name) const { return dir_.path() + "/" + name; }

  void waitFor(const std::string& file, const std::string& text, const std::string& name) const {
    ASSERT_TRUE(testing::waitForText(file, text, -1, kJobTimeout, kPoll))
        << "no '" << text << "' in " << file << "\njob output:\n"
        << jobOutput(name);
  }

  std::string jobOutput(const std::string& name) const {
    std::string out;
    for (const auto& e : std::filesystem::directory_iterator(runDir(name) + "/logs")) {
      out += "==> " + e.path().string() + "\n" + slurp(e.path().string());
    }
    return out;
  }

  // The pid of a process's worker (from its heartbeats, in status.json), once it has beaten.
  pid_t workerPid(const std::string& name, const std::string& process) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto j = nlohmann::json::parse(slurp(runDir(name) + "/status.json"), nullptr, false);
      if (j.is_object()) {
        for (const auto& p : j.at("processes")) {
          if (p.at("name") == process && p.value("worker_pid", -1) > 0 && p.value("beats", 0) > 0) {
            return p.at("worker_pid").get<pid_t>();
          }
        }
      }
      std::this_thread::sleep_for(kPoll);
    }
    ADD_FAILURE() << "no heartbeat from " << process << " in status.json";
    return -1;
  }

  void expectLedgerExact(const std::string& name, int64_t steps) const {
    const auto s = nlohmann::json::parse(slurp(runDir(name) + "/summary.json"));
    EXPECT_EQ(s.at("steps"), steps);
    EXPECT_EQ(s.at("ledger").at("prompts_completed"), steps * s.at("prompts_per_step").get<int64_t>()) << s.dump(2);
    EXPECT_EQ(s.at("prompts_lost"), 0) << s.dump(2);
  }

  testing::TempDir dir_;
};

TEST_F(SlurmTest, ToyRlhfRunsAsOneHeterogeneousJob) {
  const Process p = start(gramrlBinary(), rlhf("het", {"learner.total_steps=6", "--wait"}), dir_.file("het.log"));
  ASSERT_EQ(wait(p, kJobTimeout, kPoll), 0) << slurp(dir_.file("het.log")) << jobOutput("het");
  expectLedgerExact("het", 6);
  // One component per role, each process its own job step with its own log.
  const std::string script = slurp(runDir("het") + "/slurm-job.sbatch");
  size_t hetjobs = 0;
  for (size_t at = script.find("#SBATCH hetjob"); at != std::string::npos; at = script.find("#SBATCH hetjob", at + 1)) {
    ++hetjobs;
  }
  EXPECT_EQ(hetjobs, 2u) << script;
  for (const char* log : {"learner-0", "learner-1", "reward-0", "actor-0", "actor-1"}) {
    EXPECT_FALSE(slurp(runDir("het") + "/logs/" + log + ".log").empty()) << log;
  }
  EXPECT_NE(slurp(runDir("het") + "/logs/learner-0.log").find("rank 0 of 2"), std::string::npos);
  EXPECT_NE(slurp(runDir("het") + "/logs/actor-1.log").find("the run is finished"), std::string::npos)
      << jobOutput("het");
}

TEST_F(SlurmTest, KilledActorRewardAndLearnerTasksAreRestartedAndTheJobCompletes) {
  // Two reward replicas: the actors fail over to reward-0 while reward-1 restarts on a new port.
  const Process p =
      start(gramrlBinary(),
            rlhf("kill", {"learner.total_steps=16", "reward.replicas=2", "learner.checkpoint.every_steps=4", "--wait"}),
            dir_.file("kill.log"));
  waitFor(runDir("kill") + "/logs/actor-0.log", "batch 2:", "kill");
  const pid_t actor = workerPid("kill", "actor-0");
  const pid_t reward = workerPid("kill", "reward-1");
  ASSERT_GT(actor, 0);
  ASSERT_GT(reward, 0);
  ::kill(actor, SIGKILL);
  ::kill(reward, SIGKILL);
  // Then a learner rank, once a checkpoint exists: both ranks and the actors restart from it.
  waitFor(runDir("kill") + "/logs/learner-0.log", "saved checkpoint", "kill");
  const pid_t learner = workerPid("kill", "learner-1");
  ASSERT_GT(learner, 0);
  ::kill(learner, SIGKILL);
  ASSERT_EQ(wait(p, kJobTimeout, kPoll), 0) << slurp(dir_.file("kill.log")) << jobOutput("kill");
  expectLedgerExact("kill", 16);
  // The supervisor restarted each step (its log is the job's output; srun reports a task killed
  // by a signal as exit code 128 + signal).
  std::string job_out;
  for (const auto& e : std::filesystem::directory_iterator(runDir("kill") + "/logs")) {
    if (e.path().filename().string().rfind("slurm-", 0) == 0) job_out += slurp(e.path().string());
  }
  EXPECT_NE(job_out.find("actor-0 exited with code 137; restarting it"), std::string::npos) << job_out;
  EXPECT_NE(job_out.find("reward-1 exited with code 137; restarting it"), std::string::npos) << job_out;
  EXPECT_NE(job_out.find("learner-1 exited with code 137; restarting the learner group"), std::string::npos) << job_out;
  EXPECT_NE(slurp(runDir("kill") + "/logs/learner-0.log").find("resumed from"), std::string::npos) << jobOutput("kill");
}

TEST_F(SlurmTest, ScancelStopsTheJobAndResubmittingResumes) {
  const auto args = rlhf("resume", {"learner.total_steps=16", "learner.checkpoint.every_steps=4"});
  const std::string submit_out = dir_.file("submit.log");
  ASSERT_EQ(testing::run(gramrlBinary(), args, submit_out), 0) << slurp(submit_out);
  std::string job;
  {
    std::istringstream lines(slurp(submit_out));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos) job = line;
    }
  }
  ASSERT_FALSE(job.empty()) << slurp(submit_out);
  waitFor(runDir("resume") + "/logs/learner-0.log", "saved checkpoint", "resume");
  // scancel sends SIGTERM to every step and the batch script: the learner finishes its step and
  // writes the checkpoint of the step reached (NOTE [Stop requests]) within Slurm's KillWait.
  ASSERT_EQ(testing::run("/usr/bin/env", {"scancel", job}, dir_.file("scancel.log")), 0)
      << slurp(dir_.file("scancel.log"));
  // The job leaves the queue.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    ASSERT_EQ(testing::run("/usr/bin/env", {"squeue", "-h", "-j", job}, dir_.file("squeue.log")), 0);
    if (slurp(dir_.file("squeue.log")).find(job) == std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "job " << job << " is still queued";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto waited = args;
  waited.push_back("--wait");
  const Process resumed = start(gramrlBinary(), waited, dir_.file("resumed.log"));
  ASSERT_EQ(wait(resumed, kJobTimeout, kPoll), 0) << slurp(dir_.file("resumed.log")) << jobOutput("resume");
  const std::string learner_log = slurp(runDir("resume") + "/logs/learner-0.log");
  EXPECT_NE(learner_log.find("resumed from"), std::string::npos) << jobOutput("resume");
  EXPECT_NE(learner_log.find("stopped on request at step"), std::string::npos) << jobOutput("resume");
  expectLedgerExact("resume", 16);
}

// `gramrl train` under Slurm (issue 13): a plain job of two learner ranks, each a job step, that
// trains to its last checkpoint; the same supervisor as rlhf runs inside it.
TEST_F(SlurmTest, TrainingRunsAsAPlainJob) {
  const std::string data = dir_.file("sft.jsonl");
  ASSERT_EQ(testing::run(gramrlBinary(), {"world", "generate", "sft", "-n", "128", "-o", data}, dir_.file("gen.log")),
            0)
      << slurp(dir_.file("gen.log"));
  const std::vector<std::string> args{"train",
                                      "sft",
                                      std::string(GRAMRL_SOURCE_DIR) + "/configs/sft-toy.yaml",
                                      "launch.mode=slurm",
                                      "experiment.output_dir=" + dir_.path(),
                                      "experiment.name=sft",
                                      "learner.data.train=" + data,
                                      "learner.ranks=2",
                                      "learner.total_steps=4",
                                      "learner.global_batch_size=16",
                                      "learner.micro_batch_size=8",
                                      "learner.checkpoint.every_steps=2",
                                      "launch.slurm.time_limit=00:10:00",
                                      "launch.slurm.stop_signal_s=0",
                                      "--wait"};
  const Process p = start(gramrlBinary(), args, dir_.file("train.log"));
  ASSERT_EQ(wait(p, kJobTimeout, kPoll), 0) << slurp(dir_.file("train.log")) << jobOutput("sft");
  const std::string script = slurp(runDir("sft") + "/slurm-job.sbatch");
  EXPECT_EQ(script.find("hetjob"), std::string::npos) << script;
  EXPECT_NE(script.find("slurm supervise-train sft"), std::string::npos) << script;
  EXPECT_TRUE(std::filesystem::exists(runDir("sft") + "/checkpoints/step-00000004")) << jobOutput("sft");
  EXPECT_NE(slurp(runDir("sft") + "/logs/learner-1.log").find("rank 1 of 2"), std::string::npos) << jobOutput("sft");
}

}  // namespace
}  // namespace gramrl
