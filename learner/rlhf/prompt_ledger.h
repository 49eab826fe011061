// The prompt ledger of an RLHF run: which prompt belongs to which step, who holds it, and
// whether its trajectories arrived.
//
// NOTE [Prompt leases]
// Step s trains on prompts s*P .. s*P + P - 1 (P = prompts_per_step), so a step's data is fixed
// by the seed and the step alone, whatever the number of actors or their timing. Learner rank 0
// hands prompts out as leases (lease id, prompt id, the oldest weights version the actor may
// generate it with). Only prompts of steps s <= version + max_staleness are leased, so with
// max_staleness 0 an actor always generates with the learner's newest weights. An actor hands a
// lease in with its trajectory batch; a lease not handed in by its deadline (the actor died,
// hung or is slow) goes back to the front of the queue and is leased again under a new id.
// Whichever copy of a prompt's trajectories arrives first is kept; later copies are counted as
// duplicates and dropped, so every prompt is trained on exactly once. A checkpoint after step s
// keeps the counts and s; work of later steps that was in flight is redone after a resume
// (nothing is kept that the checkpoint does not hold).
//
// Threads: not thread-safe; the experience server's thread owns it. Never blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace gramrl::rlhf {

using LedgerClock = std::chrono::steady_clock;

struct LedgerOptions {
  int64_t prompts_per_step = 1;
  int64_t total_steps = 1;
  int64_t max_staleness = 0;
  std::chrono::milliseconds lease_timeout{60000};
};

struct Lease {
  uint64_t lease_id = 0;
  uint64_t prompt_id = 0;
  int64_t min_version = 0;
};

// What became of a handed-in prompt.
enum class Handin { kAccepted, kDuplicate, kRejected };

// The run's counts, written to summary.json and kept in checkpoints.
struct LedgerCounts {
  int64_t leased = 0;      // leases handed out, re-leases included
  int64_t re_leased = 0;   // leases handed out for a prompt whose earlier lease expired
  int64_t expired = 0;     // leases that passed their deadline
  int64_t completed = 0;   // prompts whose trajectories were kept (once each)
  int64_t duplicates = 0;  // later copies of completed prompts, dropped
  int64_t rejected = 0;    // hand-ins naming an unknown lease, or too stale
};

class PromptLedger {
 public:
  // Starts at step `first_step` (0, or the step after the checkpoint a run resumed from), with
  // the learner at policy version `first_step`, and `counts` carried over from the checkpoint.
  PromptLedger(LedgerOptions options, int64_t first_step, LedgerCounts counts = {});

  // Up to `max_prompts` leases, in prompt order (re-leased prompts first). Empty when every
  // leasable prompt is out or done. Each lease's min_version tells the actor which weights it
  // must hold to generate it (NOTE [Prompt leases]).
  std::vector<Lease> lease(int64_t max_prompts, LedgerClock::time_point now);
  // The actor handed in `lease_id` for `prompt_id`, generated with weights `version`.
  Handin handIn(uint64_t lease_id, uint64_t prompt_id, int64_t version);
  // Leases past their deadline go back to the queue. Returns how many expired.
  int64_t expire(LedgerClock::time_point now);
  // The learner finished `version` updates: steps up to version + max_staleness become leasable.
  void setPolicyVersion(int64_t version);

  bool isStepComplete(int64_t step) const;
  // Every step of the run is complete.
  bool isFinished() const;
  int64_t policyVersion() const { return version_; }
  // The first prompt id of `step`.
  uint64_t firstPromptOf(int64_t step) const;
  int64_t stepOf(uint64_t prompt_id) const;
  int64_t outstandingLeases() const { return static_cast<int64_t>(active_.size()); }
  const LedgerCounts& counts() const { return counts_; }
  // The counts as a checkpoint at the current version keeps them: prompts completed for steps
  // not yet trained are not counted (a resumed run redoes them).
  LedgerCounts countsForCheckpoint() const;
  const LedgerOptions& options() const { return options_; }

 private:
  struct Active {
    uint64_t prompt_id;
    LedgerClock::time_point deadline;
  };
  void refill();

  LedgerOptions options_;
  int64_t version_;
  uint64_t next_prompt_;  // the next never-leased prompt id
  uint64_t next_lease_ = 1;
  std::deque<uint64_t> requeued_;  // prompts whose lease expired, oldest first
  std::map<uint64_t, Active> active_;
  std::map<uint64_t, uint64_t> expired_;  // expired lease id -> prompt id: a late hand-in still counts
  std::set<uint64_t> leased_prompts_;     // prompts with an active lease (one or more)
  std::set<uint64_t> done_;               // completed prompts of steps not yet trained
  LedgerCounts counts_;
};

std::string toJson(const LedgerCounts& counts);
LedgerCounts ledgerCountsFromJson(const std::string& text, const std::string& source);

}  // namespace gramrl::rlhf
