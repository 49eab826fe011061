#include "learner/rlhf/prompt_ledger.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/core/errors.h"

namespace gramrl::rlhf {

PromptLedger::PromptLedger(LedgerOptions options, int64_t first_step, LedgerCounts counts)
    : options_(options), version_(first_step), next_prompt_(0), counts_(counts) {
  GRAMRL_ASSERT(options_.prompts_per_step >= 1 && options_.total_steps >= 1 && options_.max_staleness >= 0);
  GRAMRL_ASSERT(first_step >= 0 && first_step <= options_.total_steps);
  next_prompt_ = firstPromptOf(first_step);
}

uint64_t PromptLedger::firstPromptOf(int64_t step) const {
  return static_cast<uint64_t>(step) * static_cast<uint64_t>(options_.prompts_per_step);
}

int64_t PromptLedger::stepOf(uint64_t prompt_id) const {
  return static_cast<int64_t>(prompt_id / static_cast<uint64_t>(options_.prompts_per_step));
}

std::vector<Lease> PromptLedger::lease(int64_t max_prompts, LedgerClock::time_point now) {
  std::vector<Lease> out;
  const int64_t last_step = std::min(options_.total_steps - 1, version_ + options_.max_staleness);
  const uint64_t end = firstPromptOf(last_step + 1);
  auto grant = [&](uint64_t prompt, bool again) {
    Lease l;
    l.lease_id = next_lease_++;
    l.prompt_id = prompt;
    l.min_version = std::max<int64_t>(0, stepOf(prompt) - options_.max_staleness);
    active_[l.lease_id] = Active{prompt, now + options_.lease_timeout};
    leased_prompts_.insert(prompt);
    ++counts_.leased;
    if (again) ++counts_.re_leased;
    out.push_back(l);
  };
  while (static_cast<int64_t>(out.size()) < max_prompts && !requeued_.empty()) {
    const uint64_t prompt = requeued_.front();
    requeued_.pop_front();
    if (done_.count(prompt) || stepOf(prompt) < version_) continue;  // completed meanwhile
    grant(prompt, true);
  }
  while (static_cast<int64_t>(out.size()) < max_prompts && next_prompt_ < end) {
    grant(next_prompt_++, false);
  }
  return out;
}

Handin PromptLedger::handIn(uint64_t lease_id, uint64_t prompt_id, int64_t version) {
  uint64_t leased_prompt = 0;
  if (auto it = active_.find(lease_id); it != active_.end()) {
    leased_prompt = it->second.prompt_id;
    if (leased_prompt == prompt_id) active_.erase(it);
  } else if (auto e = expired_.find(lease_id); e != expired_.end()) {
    leased_prompt = e->second;
    if (leased_prompt == prompt_id) expired_.erase(e);
  } else {
    ++counts_.rejected;
    return Handin::kRejected;
  }
  if (leased_prompt != prompt_id) {
    ++counts_.rejected;
    return Handin::kRejected;
  }
  bool still_leased = false;
  for (const auto& [id, a] : active_) still_leased = still_leased || a.prompt_id == prompt_id;
  if (!still_leased) leased_prompts_.erase(prompt_id);

  const int64_t step = stepOf(prompt_id);
  if (step < version_ || done_.count(prompt_id)) {
    ++counts_.duplicates;
    return Handin::kDuplicate;
  }
  if (version > version_ || step - version > options_.max_staleness) {
    ++counts_.rejected;
    if (!still_leased) requeued_.push_front(prompt_id);
    return Handin::kRejected;
  }
  done_.insert(prompt_id);
  ++counts_.completed;
  return Handin::kAccepted;
}

int64_t PromptLedger::expire(LedgerClock::time_point now) {
  int64_t n = 0;
  std::vector<uint64_t> prompts;
  for (auto it = active_.begin(); it != active_.end();) {
    if (it->second.deadline <= now) {
      expired_[it->first] = it->second.prompt_id;
      prompts.push_back(it->second.prompt_id);
      it = active_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  std::sort(prompts.begin(), prompts.end());
  // Requeued in prompt order, ahead of anything requeued before (those are older still, so they
  // stay first: insert after them).
  for (uint64_t p : prompts) {
    bool still_leased = false;
    for (const auto& [id, a] : active_) still_leased = still_leased || a.prompt_id == p;
    if (still_leased) continue;
    leased_prompts_.erase(p);
    if (!done_.count(p) && stepOf(p) >= version_) requeued_.push_back(p);
  }
  counts_.expired += n;
  return n;
}

void PromptLedger::setPolicyVersion(int64_t version) {
  GRAMRL_ASSERT(version >= version_, "policy versions only grow");
  version_ = version;
  const uint64_t first_live = firstPromptOf(version_);
  done_.erase(done_.begin(), done_.lower_bound(first_live));
  if (next_prompt_ < first_live) next_prompt_ = first_live;
}

bool PromptLedger::isStepComplete(int64_t step) const {
  if (step < version_) return true;
  const uint64_t first = firstPromptOf(step);
  auto it = done_.lower_bound(first);
  int64_t n = 0;
  for (; it != done_.end() && *it < first + static_cast<uint64_t>(options_.prompts_per_step); ++it) ++n;
  return n == options_.prompts_per_step;
}

LedgerCounts PromptLedger::countsForCheckpoint() const {
  LedgerCounts c = counts_;
  c.completed -= static_cast<int64_t>(done_.size());  // done_ holds only prompts of steps >= version_
  return c;
}

bool PromptLedger::isFinished() const { return version_ >= options_.total_steps; }

std::string toJson(const LedgerCounts& c) {
  nlohmann::json j{{"prompts_leased", c.leased},         {"prompts_re_leased", c.re_leased},
                   {"leases_expired", c.expired},        {"prompts_completed", c.completed},
                   {"duplicates_dropped", c.duplicates}, {"hand_ins_rejected", c.rejected}};
  return j.dump(2);
}

LedgerCounts ledgerCountsFromJson(const std::string& text, const std::string& source) {
  LedgerCounts c;
  try {
    const auto j = nlohmann::json::parse(text);
    c.leased = j.at("prompts_leased").get<int64_t>();
    c.re_leased = j.at("prompts_re_leased").get<int64_t>();
    c.expired = j.at("leases_expired").get<int64_t>();
    c.completed = j.at("prompts_completed").get<int64_t>();
    c.duplicates = j.at("duplicates_dropped").get<int64_t>();
    c.rejected = j.at("hand_ins_rejected").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    GRAMRL_CHECK(false, DataError, "{}: not a ledger record: {}", source, e.what());
  }
  return c;
}

}  // namespace gramrl::rlhf
