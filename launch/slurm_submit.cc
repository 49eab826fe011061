#include "launch/slurm_submit.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/checkpoint/file_io.h"
#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "launch/local_launcher.h"

namespace gramrl {
namespace fs = std::filesystem;

std::vector<ProcessSpec> processSpecs(const ExperimentConfig& config, const std::vector<RoleProcess>& plan,
                                      const std::string& exe, const std::string& rendezvous, bool under_slurm) {
  const std::string srun = under_slurm ? findOnPath("srun") : std::string();
  GRAMRL_CHECK(!under_slurm || !srun.empty(), ConfigError,
               "gramrl slurm supervise runs inside a Slurm job: no srun on PATH");
  std::vector<ProcessSpec> specs;
  for (const auto& p : plan) {
    ProcessSpec spec;
    spec.name = p.name();
    if (under_slurm) {
      spec.argv = srunCommand(config, plan, p, exe);
      spec.argv[0] = srun;
    } else {
      spec.argv = {exe};
      spec.argv.insert(spec.argv.end(), p.args.begin(), p.args.end());
      spec.log_file = p.log_file;  // under Slurm, srun --output writes it
    }
    spec.argv.push_back("--rendezvous");
    spec.argv.push_back(rendezvous);
    spec.serves = p.serves;
    spec.restart_limit = p.restart_limit;
    spec.restart_group = p.restart_group;
    spec.follows_group = p.follows_group;
    spec.env = p.env;
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string storeHostInJob(const std::string& host) {
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  return loopback ? hostName() : host;
}

SlurmJobPaths slurmJobPaths(const ExperimentConfig& config, const std::string& config_file,
                            const std::vector<std::string>& overrides) {
  const fs::path run_dir = fs::absolute(fs::path(config.experiment.output_dir) / config.experiment.name);
  SlurmJobPaths paths;
  paths.gramrl = config.launch.slurm.gramrl.empty() ? selfExecutable() : config.launch.slurm.gramrl;
  paths.run_dir = run_dir.string();
  paths.config = (run_dir / "config.yaml").string();
  paths.supervise_args.push_back(fs::absolute(config_file).string());
  for (const auto& o : overrides) paths.supervise_args.push_back(o);
  // The output directory as the batch script will see it, whatever its working directory.
  if (!fs::path(config.experiment.output_dir).is_absolute()) {
    paths.supervise_args.push_back("experiment.output_dir=" + fs::absolute(config.experiment.output_dir).string());
  }
  return paths;
}

int submitBatchJob(const std::string& script, const std::string& run_dir_text, bool wait, const std::string& result) {
  const fs::path run_dir(run_dir_text);
  std::error_code ec;
  fs::create_directories(run_dir / "logs", ec);  // the job's --output goes there: it must exist first
  GRAMRL_CHECK(!ec, SystemError, "cannot create run directory {}: {}", run_dir.string(), ec.message());
  const std::string script_path = (run_dir / "slurm-job.sbatch").string();
  checkpoint::writeFileAtomically(script_path, script);
  const std::string sbatch = findOnPath("sbatch");
  GRAMRL_CHECK(!sbatch.empty(), ConfigError,
               "launch.mode slurm: no sbatch on PATH (run on a Slurm login node, or render the script with "
               "`gramrl slurm render` and submit it yourself)");
  const std::string command = fmt::format("'{}' --parsable{} '{}'", sbatch, wait ? " --wait" : "", script_path);
  log::info("submitting {}{}", script_path, wait ? " and waiting for the job to end" : "");
  std::FILE* pipe = ::popen(command.c_str(), "r");
  GRAMRL_CHECK(pipe != nullptr, SystemError, "cannot run sbatch: {}", std::strerror(errno));
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) {
    out += buf;
    if (wait && out.find('\n') != std::string::npos && out.size() == std::strlen(buf)) {
      log::info("submitted job {}; logs in {}; live table: gramrl status {}", out.substr(0, out.find('\n')),
                (run_dir / "logs").string(), run_dir.string());
    }
  }
  const int status = ::pclose(pipe);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  const std::string job = out.substr(0, out.find_first_of(";\n"));
  if (!wait) {
    GRAMRL_CHECK(rc == 0, SystemError, "sbatch failed (exit code {}) for {}", rc, script_path);
    log::info("submitted job {}; logs in {}; live table: gramrl status {}", job, (run_dir / "logs").string(),
              run_dir.string());
    std::printf("%s\n", job.c_str());
    return 0;
  }
  if (rc == 0) {
    log::info("job {} finished: {}", job, (run_dir / result).string());
  } else {
    log::error("job {} ended with exit code {}; see {}/logs/slurm-{}.out", job, rc, run_dir.string(), job);
  }
  return rc;
}

}  // namespace gramrl
