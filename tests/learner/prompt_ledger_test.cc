// The prompt ledger (NOTE [Prompt leases]): leasing order and window, re-leasing after a
// deadline, duplicates dropped, nothing counted twice.
#include "learner/rlhf/prompt_ledger.h"

#include <gtest/gtest.h>

namespace gramrl::rlhf {
namespace {

using std::chrono::milliseconds;

LedgerOptions options(int64_t per_step, int64_t steps, int64_t staleness) {
  return LedgerOptions{per_step, steps, staleness, milliseconds(1000)};
}

std::vector<uint64_t> promptsOf(const std::vector<Lease>& leases) {
  std::vector<uint64_t> out;
  for (const auto& l : leases) out.push_back(l.prompt_id);
  return out;
}

TEST(PromptLedgerTest, LeasesOnlyTheCurrentStepWhenStrictlyOnPolicy) {
  PromptLedger ledger(options(3, 4, 0), 0);
  const auto t0 = LedgerClock::now();
  auto a = ledger.lease(2, t0);
  EXPECT_EQ(promptsOf(a), (std::vector<uint64_t>{0, 1}));
  auto b = ledger.lease(5, t0);
  EXPECT_EQ(promptsOf(b), (std::vector<uint64_t>{2}));  // step 1 waits for version 1
  EXPECT_TRUE(ledger.lease(5, t0).empty());
  for (const auto& l : b) EXPECT_EQ(l.min_version, 0);
  for (const auto& l : a) EXPECT_EQ(ledger.handIn(l.lease_id, l.prompt_id, 0), Handin::kAccepted);
  EXPECT_FALSE(ledger.isStepComplete(0));
  EXPECT_EQ(ledger.handIn(b[0].lease_id, 2, 0), Handin::kAccepted);
  EXPECT_TRUE(ledger.isStepComplete(0));
  ledger.setPolicyVersion(1);
  auto c = ledger.lease(5, t0);
  EXPECT_EQ(promptsOf(c), (std::vector<uint64_t>{3, 4, 5}));
  for (const auto& l : c) EXPECT_EQ(l.min_version, 1);
}

TEST(PromptLedgerTest, StalenessWindowLeasesAheadAndNamesTheOldestUsableVersion) {
  PromptLedger ledger(options(2, 10, 1), 0);
  auto a = ledger.lease(10, LedgerClock::now());
  EXPECT_EQ(promptsOf(a), (std::vector<uint64_t>{0, 1, 2, 3}));  // steps 0 and 1
  EXPECT_EQ(a[2].min_version, 0);                                // step 1 may use version 0
  // A sample of step 1 made with version 0 is accepted at learner version 0 and 1, ...
  EXPECT_EQ(ledger.handIn(a[2].lease_id, 2, 0), Handin::kAccepted);
  ledger.setPolicyVersion(1);
  auto b = ledger.lease(10, LedgerClock::now());
  EXPECT_EQ(promptsOf(b), (std::vector<uint64_t>{4, 5}));
  // ... but a step-2 sample from version 0 would be two versions stale: rejected and re-leased.
  EXPECT_EQ(ledger.handIn(b[0].lease_id, 4, 0), Handin::kRejected);
  auto c = ledger.lease(10, LedgerClock::now());
  EXPECT_EQ(promptsOf(c), (std::vector<uint64_t>{4}));
  EXPECT_EQ(ledger.counts().rejected, 1);
  EXPECT_EQ(ledger.counts().re_leased, 1);
}

TEST(PromptLedgerTest, ExpiredLeaseIsLeasedAgainAndTheSecondCopyIsADuplicate) {
  PromptLedger ledger(options(2, 2, 0), 0);
  const auto t0 = LedgerClock::now();
  auto a = ledger.lease(2, t0);  // actor A takes prompts 0 and 1, then hangs
  EXPECT_EQ(ledger.expire(t0 + milliseconds(999)), 0);
  EXPECT_EQ(ledger.expire(t0 + milliseconds(1000)), 2);
  auto b = ledger.lease(1, t0 + milliseconds(1001));  // actor B re-leases prompt 0
  ASSERT_EQ(promptsOf(b), (std::vector<uint64_t>{0}));
  EXPECT_NE(b[0].lease_id, a[0].lease_id);
  // A wakes up and hands prompt 0 in first: kept. B's copy is then a duplicate.
  EXPECT_EQ(ledger.handIn(a[0].lease_id, 0, 0), Handin::kAccepted);
  EXPECT_EQ(ledger.handIn(b[0].lease_id, 0, 0), Handin::kDuplicate);
  // Prompt 1 goes out again; its late original and the new lease: the first one counts.
  auto c = ledger.lease(5, t0 + milliseconds(1002));
  ASSERT_EQ(promptsOf(c), (std::vector<uint64_t>{1}));
  EXPECT_EQ(ledger.handIn(c[0].lease_id, 1, 0), Handin::kAccepted);
  EXPECT_EQ(ledger.handIn(a[1].lease_id, 1, 0), Handin::kDuplicate);
  EXPECT_TRUE(ledger.isStepComplete(0));
  const LedgerCounts& n = ledger.counts();
  EXPECT_EQ(n.leased, 4);
  EXPECT_EQ(n.re_leased, 2);
  EXPECT_EQ(n.expired, 2);
  EXPECT_EQ(n.completed, 2);
  EXPECT_EQ(n.duplicates, 2);
  EXPECT_EQ(n.rejected, 0);
}

TEST(PromptLedgerTest, UnknownOrMismatchedLeasesAreRejectedNotCounted) {
  PromptLedger ledger(options(1, 1, 0), 0);
  auto a = ledger.lease(1, LedgerClock::now());
  EXPECT_EQ(ledger.handIn(999, 0, 0), Handin::kRejected);
  EXPECT_EQ(ledger.handIn(a[0].lease_id, 7, 0), Handin::kRejected);
  EXPECT_EQ(ledger.counts().completed, 0);
  EXPECT_EQ(ledger.handIn(a[0].lease_id, 0, 0), Handin::kAccepted);
  EXPECT_EQ(ledger.counts().completed, 1);
}

TEST(PromptLedgerTest, CheckpointCountsLeaveOutWorkOfUntrainedSteps) {
  PromptLedger ledger(options(1, 5, 2), 0);
  auto a = ledger.lease(3, LedgerClock::now());  // steps 0, 1, 2
  for (const auto& l : a) ASSERT_EQ(ledger.handIn(l.lease_id, l.prompt_id, 0), Handin::kAccepted);
  ledger.setPolicyVersion(1);  // step 0 trained; steps 1 and 2 are done but not trained
  EXPECT_EQ(ledger.counts().completed, 3);
  EXPECT_EQ(ledger.countsForCheckpoint().completed, 1);
  // A resumed ledger starts at step 1 and leases prompt 1 again.
  PromptLedger resumed(options(1, 5, 2), 1, ledger.countsForCheckpoint());
  EXPECT_EQ(promptsOf(resumed.lease(1, LedgerClock::now())), (std::vector<uint64_t>{1}));
  const LedgerCounts back = ledgerCountsFromJson(toJson(ledger.counts()), "test");
  EXPECT_EQ(back.completed, 3);
  EXPECT_EQ(back.leased, 3);
}

TEST(PromptLedgerTest, NothingIsLeasedPastTheLastStep) {
  PromptLedger ledger(options(2, 1, 3), 0);
  EXPECT_EQ(ledger.lease(100, LedgerClock::now()).size(), 2u);
  EXPECT_FALSE(ledger.isFinished());
  ledger.setPolicyVersion(1);
  EXPECT_TRUE(ledger.isFinished());
  EXPECT_TRUE(ledger.lease(100, LedgerClock::now()).empty());
}

}  // namespace
}  // namespace gramrl::rlhf
