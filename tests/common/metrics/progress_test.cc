// Progress formatting (pure functions) and the reporter's cadence, with a fake clock.
#include "common/metrics/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace gramrl::metrics {
namespace {

TEST(ProgressFormatTest, Duration) {
  EXPECT_EQ(formatDuration(0), "0s");
  EXPECT_EQ(formatDuration(45), "45s");
  EXPECT_EQ(formatDuration(59.4), "59s");
  EXPECT_EQ(formatDuration(59.6), "1m00s");
  EXPECT_EQ(formatDuration(381), "6m21s");
  EXPECT_EQ(formatDuration(3600 + 2 * 60 + 59), "1h02m");  // hours drop the seconds
  EXPECT_EQ(formatDuration(123 * 3600 + 4 * 60), "123h04m");
  EXPECT_EQ(formatDuration(-1), "?");
  EXPECT_EQ(formatDuration(INFINITY), "?");
  EXPECT_EQ(formatDuration(NAN), "?");
}

TEST(ProgressFormatTest, Scalar) {
  EXPECT_EQ(formatScalar(0.512), "0.512");
  EXPECT_EQ(formatScalar(0.71), "0.710");
  EXPECT_EQ(formatScalar(0), "0.000");
  EXPECT_EQ(formatScalar(-12.3456), "-12.346");
  EXPECT_EQ(formatScalar(3e-6), "3.00e-06");
  EXPECT_EQ(formatScalar(123456), "1.23e+05");
  EXPECT_EQ(formatScalar(NAN), "nan");
  EXPECT_EQ(formatScalar(-INFINITY), "-inf");
}

ProgressState example() {
  ProgressState s;
  s.label = "ppo";
  s.step = 120;
  s.total = 1000;
  s.rate_steps_per_s = 2.31;
  s.scalars = {{"loss", 0.512}, {"acc", 0.71}};
  return s;
}

TEST(ProgressFormatTest, FullLine) {
  // 880 steps left / 2.31 step/s = 380.95 s -> 6m21s; 12% fills floor(0.12 * 20) = 2 columns.
  EXPECT_EQ(formatProgressLine(example(), 200),
            "ppo 120/1000 [##                  ] 12% 2.31 step/s ETA 6m21s loss=0.512 acc=0.710");
  EXPECT_EQ(formatProgressLog(example()), "ppo 120/1000 12% 2.31 step/s ETA 6m21s loss=0.512 acc=0.710");
}

TEST(ProgressFormatTest, SlowRateUnknownRateUnknownTotalAndDone) {
  ProgressState s = example();
  s.rate_steps_per_s = 1.0 / 30;  // 880 * 30 s = 7h20m
  EXPECT_EQ(formatProgressLog(s), "ppo 120/1000 12% 30.0 s/step ETA 7h20m loss=0.512 acc=0.710");
  s.rate_steps_per_s = 0;
  EXPECT_EQ(formatProgressLog(s), "ppo 120/1000 12% -- step/s ETA -- loss=0.512 acc=0.710");
  s.total = 0;
  EXPECT_EQ(formatProgressLine(s, 200), "ppo 120 -- step/s loss=0.512 acc=0.710");
  s = example();
  s.step = 1000;
  s.scalars.clear();
  EXPECT_EQ(formatProgressLine(s, 200), "ppo 1000/1000 [####################] 100% 2.31 step/s ETA 0s");
}

TEST(ProgressFormatTest, FitsTheWidth) {
  const std::string full = formatProgressLine(example(), 1000);
  ASSERT_EQ(full.size(), 82u);
  // The last column stays free: width 83 fits everything, 82 drops the last scalar.
  EXPECT_EQ(formatProgressLine(example(), 83), full);
  EXPECT_EQ(formatProgressLine(example(), 82), full.substr(0, full.size() - std::string(" acc=0.710").size()));
  // No scalars left and the 20-column bar does not fit in 59 columns: the bar shrinks to
  // 59 - 38 (bare line) - 3 ("[", "] ") = 18 columns, floor(0.12 * 18) = 2 of them filled.
  const std::string bare = "ppo 120/1000 12% 2.31 step/s ETA 6m21s";
  ASSERT_EQ(bare.size(), 38u);
  EXPECT_EQ(formatProgressLine(example(), 60), "ppo 120/1000 [##                ] 12% 2.31 step/s ETA 6m21s");
  EXPECT_EQ(formatProgressLine(example(), 60).size(), 59u);
  // Then it disappears, then the line is cut.
  EXPECT_EQ(formatProgressLine(example(), static_cast<int>(bare.size()) + 1), bare);
  EXPECT_EQ(formatProgressLine(example(), 11), "ppo 120/10");
  for (int width = 1; width < 120; ++width) {
    EXPECT_LE(formatProgressLine(example(), width).size(), static_cast<size_t>(std::max(1, width - 1))) << width;
  }
}

// A fake monotonic clock the test advances by hand.
struct FakeClock {
  double t = 1000;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

TEST(ProgressReporterTest, NonTtyCadenceFirstAndLast) {
  FakeClock clock;
  std::vector<std::string> lines;
  ProgressOptions options;
  options.tty = false;
  options.log_interval_s = 30;
  options.clock = clock.fn();
  options.log_sink = [&](const std::string& line) { lines.push_back(line); };
  ProgressReporter progress("sft", 100, 0, options);
  for (int step = 1; step <= 99; ++step) {
    clock.t += 1;  // 1 step/s
    progress.update(step, {{"loss", 1.0 / step}});
  }
  // The first update, then every 30 s: steps 1, 31, 61, 91.
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("sft 1/100 1% 1.00 step/s ETA 1m39s loss=1.000", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("sft 31/100 31% 1.00 step/s ETA 1m09s", 0), 0u) << lines[1];
  EXPECT_EQ(lines[3].rfind("sft 91/100", 0), 0u) << lines[3];
  clock.t += 1;
  progress.update(100, {});  // the last step is always logged, scalars carried over
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[4], "sft 100/100 100% 1.00 step/s ETA 0s loss=0.010");
  progress.finish();  // nothing new since the last line
  progress.finish();
  EXPECT_EQ(lines.size(), 5u);
}

TEST(ProgressReporterTest, FinishLogsAnUnloggedTail) {
  FakeClock clock;
  std::vector<std::string> lines;
  ProgressOptions options;
  options.tty = false;
  options.clock = clock.fn();
  options.log_sink = [&](const std::string& line) { lines.push_back(line); };
  {
    ProgressReporter progress("eval", 0, 0, options);  // unknown total
    clock.t += 2;
    progress.update(1, {});
    clock.t += 2;
    progress.update(2, {});
  }  // the destructor finishes
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "eval 2 2.0 s/step");
}

TEST(ProgressReporterTest, ResumedRateIgnoresSkippedStepsAndSlides) {
  FakeClock clock;
  ProgressOptions options;
  options.tty = false;
  options.clock = clock.fn();
  options.log_sink = [](const std::string&) {};
  ProgressReporter progress("ppo", 1000, 500, options);
  EXPECT_FALSE(progress.state().rate_steps_per_s > 0);  // no update yet
  clock.t += 10;
  progress.update(510, {});
  EXPECT_DOUBLE_EQ(progress.state().rate_steps_per_s, 1.0);  // 10 steps in 10 s, not 510
  // Speed up to 4 step/s for two minutes: the window (about 30 s) forgets the slow start.
  for (int i = 1; i <= 120; ++i) {
    clock.t += 1;
    progress.update(510 + 4 * i, {});
  }
  EXPECT_DOUBLE_EQ(progress.state().rate_steps_per_s, 4.0);
}

TEST(ProgressReporterTest, KeysSelectScalars) {
  ProgressOptions options;
  options.tty = false;
  options.keys = {"kl", "loss", "absent"};
  options.log_sink = [](const std::string&) {};
  ProgressReporter progress("ppo", 10, 0, options);
  progress.update(1, {{"loss", 1}, {"reward", 2}, {"kl", 3}});
  const auto shown = progress.state().scalars;
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[0].first, "kl");
  EXPECT_EQ(shown[1].first, "loss");

  ProgressOptions all;
  all.tty = false;
  all.log_sink = [](const std::string&) {};
  ProgressReporter defaults("ppo", 10, 0, all);
  defaults.update(1, {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}});
  EXPECT_EQ(defaults.state().scalars.size(), kMaxShownScalars);
}

TEST(ProgressReporterTest, TtyRedrawsInPlace) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* out = open_memstream(&buf, &len);
  ASSERT_NE(out, nullptr);
  FakeClock clock;
  ProgressOptions options;
  options.out = out;
  options.tty = true;
  options.width = 80;
  options.redraw_interval_s = 0.25;
  options.clock = clock.fn();
  {
    ProgressReporter progress("ppo", 4, 0, options);
    // Binary fractions keep the fake times exact.
    clock.t += 0.5;
    progress.update(1, {{"loss", 0.5}});  // first: drawn
    clock.t += 0.125;
    progress.update(2, {{"loss", 0.4}});  // within 0.25 s: skipped
    clock.t += 0.125;
    progress.update(3, {{"loss", 0.3}});  // 0.25 s after the last draw: drawn
    progress.update(4, {{"loss", 0.2}});  // the last step: drawn at once
    progress.finish();                    // redrawn once more and the line ended
  }
  std::fclose(out);
  const std::string text(buf, len);
  std::free(buf);
  const std::string e = "\x1b[K";
  const std::string expected = "\rppo 1/4 [#####               ] 25% 2.00 step/s ETA 2s loss=0.500" + e +
                               "\rppo 3/4 [###############     ] 75% 4.00 step/s ETA 0s loss=0.300" + e +
                               "\rppo 4/4 [####################] 100% 5.33 step/s ETA 0s loss=0.200" + e +
                               "\rppo 4/4 [####################] 100% 5.33 step/s ETA 0s loss=0.200" + e + "\n";
  EXPECT_EQ(text, expected);
}

}  // namespace
}  // namespace gramrl::metrics
