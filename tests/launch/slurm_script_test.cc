// The Slurm batch script (launch/slurm_script.h, NOTE [Slurm jobs]): one het component per role,
// sized from launch.slurm.<role>, and one srun step per process of the role plan.
#include "launch/slurm_script.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"

namespace gramrl {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The lines of component `group` (between the hetjob separators).
std::string component(const std::string& script, int group) {
  size_t begin = 0;
  for (int g = 0; g < group; ++g) begin = script.find("#SBATCH hetjob", begin) + 1;
  const size_t end = script.find("#SBATCH hetjob", begin + 1);
  return script.substr(begin, end == std::string::npos ? script.find("set -euo") - begin : end - begin);
}

ExperimentConfig clusterConfig() {
  ExperimentConfig c;
  c.experiment.name = "exp";
  c.learner.ranks = 2;
  c.reward.replicas = 1;
  c.rollout.actors = 3;
  c.launch.slurm.partition = "gpu";
  c.launch.slurm.account = "rlhf";
  c.launch.slurm.time_limit = "12:00:00";
  c.launch.slurm.learner.nodes = 1;
  c.launch.slurm.learner.gpus_per_task = 1;
  c.launch.slurm.learner.cpus_per_task = 8;
  c.launch.slurm.learner.mem = "256G";
  c.launch.slurm.reward.partition = "inference";
  c.launch.slurm.reward.constraint = "a100|h100";
  c.launch.slurm.actors.gpus_per_task = 2;
  return c;
}

SlurmJobPaths paths() {
  return SlurmJobPaths{"/opt/gramrl", "/runs/exp", "/runs/exp/config.yaml", {"/cfg.yaml", "a.b=1"}};
}

TEST(SlurmScript, OneComponentPerRoleSizedFromTheConfig) {
  const ExperimentConfig c = clusterConfig();
  const auto plan = buildSlurmPlan(c, "/runs/exp/config.yaml", "/runs/exp");
  const std::string s = renderBatchScript(c, plan, paths());
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_EQ(count(s, "#SBATCH hetjob\n"), 2u) << s;
  EXPECT_NE(s.find("#SBATCH --account=rlhf\n"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --time=12:00:00\n"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --output=/runs/exp/logs/slurm-%j.out\n"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --signal=B:TERM@120\n"), std::string::npos) << s;
  const std::string learner = component(s, 0), reward = component(s, 1), actors = component(s, 2);
  EXPECT_NE(learner.find("--ntasks=2\n"), std::string::npos) << learner;
  EXPECT_NE(learner.find("--nodes=1\n"), std::string::npos) << learner;
  EXPECT_NE(learner.find("--gpus-per-task=1\n"), std::string::npos) << learner;
  EXPECT_NE(learner.find("--cpus-per-task=8\n"), std::string::npos) << learner;
  EXPECT_NE(learner.find("--mem=256G\n"), std::string::npos) << learner;
  EXPECT_NE(learner.find("--partition=gpu\n"), std::string::npos) << learner;
  EXPECT_NE(reward.find("--ntasks=1\n"), std::string::npos) << reward;
  EXPECT_NE(reward.find("--partition=inference\n"), std::string::npos) << reward;
  EXPECT_NE(reward.find("--constraint=a100|h100\n"), std::string::npos) << reward;
  EXPECT_EQ(reward.find("--gpus-per-task"), std::string::npos) << reward;
  EXPECT_NE(actors.find("--ntasks=3\n"), std::string::npos) << actors;
  EXPECT_NE(actors.find("--gpus-per-task=2\n"), std::string::npos) << actors;
  EXPECT_EQ(actors.find("--nodes"), std::string::npos) << actors;  // 0: Slurm chooses
  EXPECT_NE(s.find("exec '/opt/gramrl' slurm supervise '/cfg.yaml' 'a.b=1'\n"), std::string::npos) << s;
}

TEST(SlurmScript, EveryProcessIsItsOwnStepInItsRolesHetGroup) {
  const ExperimentConfig c = clusterConfig();
  const auto plan = buildSlurmPlan(c, "/runs/exp/config.yaml", "/runs/exp");
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(slurmHetGroup(plan, "learner"), 0);
  EXPECT_EQ(slurmHetGroup(plan, "reward"), 1);
  EXPECT_EQ(slurmHetGroup(plan, "actor"), 2);
  for (const auto& p : plan) {
    EXPECT_EQ(p.log_file, "/runs/exp/logs/" + p.name() + ".log");  // learner-0 too
    EXPECT_TRUE(p.env.empty());                                    // Slurm assigns the GPUs
    const auto argv = srunCommand(c, plan, p, "/opt/gramrl");
    ASSERT_GE(argv.size(), 3u);
    EXPECT_EQ(argv[0], "srun");
    EXPECT_EQ(argv[1], "--het-group=" + std::to_string(slurmHetGroup(plan, p.role)));
    const std::string joined = [&] {
      std::string j;
      for (const auto& a : argv) j += a + " ";
      return j;
    }();
    EXPECT_NE(joined.find("--ntasks=1 --nodes=1 --exact"), std::string::npos) << joined;
    EXPECT_NE(joined.find("--output=" + p.log_file + " --open-mode=append"), std::string::npos) << joined;
    EXPECT_NE(joined.find("/opt/gramrl " + p.args.front()), std::string::npos) << joined;
  }
}

TEST(SlurmScript, ARoleWithoutProcessesHasNoComponent) {
  ExperimentConfig c = clusterConfig();
  c.reward.replicas = 0;
  const auto plan = buildSlurmPlan(c, "/r/config.yaml", "/r");
  EXPECT_EQ(slurmHetGroup(plan, "reward"), -1);
  EXPECT_EQ(slurmHetGroup(plan, "actor"), 1);
  EXPECT_EQ(count(renderBatchScript(c, plan, paths()), "#SBATCH hetjob\n"), 1u);
}

// `gramrl train` / `gramrl gram ...` under Slurm: one component of learner ranks, a plain job,
// each rank a step without --het-group, the batch script starting the training supervisor.
TEST(SlurmScript, ATrainingCommandIsAPlainJobOfLearnerRanks) {
  ExperimentConfig c = clusterConfig();
  c.learner.ranks = 4;
  const auto plan = forSlurm(buildTrainPlan(c, "/r/config.yaml", "/r"), "/r");
  ASSERT_EQ(plan.size(), 4u);
  SlurmJobPaths p = paths();
  p.command = "gram pretrain";
  p.supervise_command = {"slurm", "supervise-train", "gram_pretrain"};
  const std::string s = renderBatchScript(c, plan, p);
  EXPECT_EQ(count(s, "hetjob"), 0u) << s;
  EXPECT_EQ(count(s, "--het-group"), 0u) << s;
  EXPECT_NE(s.find("#SBATCH --ntasks=4\n"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --gpus-per-task=1\n"), std::string::npos) << s;
  EXPECT_NE(s.find("`gramrl gram pretrain CONFIG launch.mode=slurm`"), std::string::npos) << s;
  EXPECT_NE(s.find("exec '/opt/gramrl' slurm supervise-train gram_pretrain '/cfg.yaml' 'a.b=1'\n"), std::string::npos)
      << s;
  for (const auto& process : plan) {
    EXPECT_EQ(process.log_file, "/r/logs/" + process.name() + ".log");
    EXPECT_EQ(process.restart_group, "learner");
    const auto argv = srunCommand(c, plan, process, "/opt/gramrl");
    EXPECT_EQ(argv[1], "--ntasks=1");
  }
}

TEST(SlurmScript, ValuesThatCannotGoIntoAnSbatchLineAreRefused) {
  ExperimentConfig c = clusterConfig();
  c.launch.slurm.reward.partition = "gpu\n#SBATCH --uid=0";
  const auto plan = buildSlurmPlan(c, "/r/config.yaml", "/r");
  try {
    renderBatchScript(c, plan, paths());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("launch.slurm.reward.partition"), std::string::npos) << e.what();
  }
  c = clusterConfig();
  c.launch.slurm.extra_args = {"--qos=high\n--uid=0"};
  EXPECT_THROW(renderBatchScript(c, plan, paths()), ConfigError);
}

}  // namespace
}  // namespace gramrl
