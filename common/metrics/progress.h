// A live progress line for training loops:
//
//   ppo 120/1000 [##        ] 12% 2.31 step/s ETA 6m21s loss=0.512 acc=0.710
//
// On a terminal the line is redrawn in place ("\r" + text + ESC[K) at most every
// redraw_interval_s and fitted to the terminal width. Anywhere else (a log file, a Slurm job)
// it becomes a gramrl::log::info line at most every log_interval_s, plus the first and the last.
// Formatting is in pure functions so that tests check it without a terminal or a clock.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gramrl::metrics {

struct ProgressOptions {
  // Where a TTY line is drawn. Not owned; must outlive the reporter.
  std::FILE* out = stderr;
  // Whether `out` is a terminal; unset asks isatty(fileno(out)).
  std::optional<bool> tty;
  // Minimum seconds between redraws on a terminal.
  double redraw_interval_s = 0.1;
  // Minimum seconds between log lines when not on a terminal.
  double log_interval_s = 30;
  // Scalars to show, in this order; empty shows the first kMaxShownScalars given to update().
  std::vector<std::string> keys;
  // Terminal width in columns; 0 asks the terminal (ioctl TIOCGWINSZ), falling back to 100.
  int width = 0;
  // Seconds on a monotonic clock; unset uses std::chrono::steady_clock. Tests inject a fake.
  std::function<double()> clock;
  // Receives each non-TTY line; unset writes it with gramrl::log::info. Tests inject a recorder.
  std::function<void(const std::string&)> log_sink;
};

// What one progress line shows. rate_steps_per_s <= 0 or non-finite means "not known yet".
struct ProgressState {
  std::string label;
  int64_t step = 0;   // steps done
  int64_t total = 0;  // <= 0: unknown (no bar, percentage or ETA)
  double rate_steps_per_s = 0;
  std::vector<std::pair<std::string, double>> scalars;  // already selected and ordered
};

inline constexpr size_t kMaxShownScalars = 4;

// "45s", "6m21s", "1h02m" (hours past 99 keep growing: "123h04m"); "?" for negative or
// non-finite input. Rounds to the nearest second.
std::string formatDuration(double seconds);
// A scalar for a progress line: 3 decimals in [1e-3, 1e4), otherwise 3 significant digits
// ("1.23e-05"); "nan", "inf", "-inf".
std::string formatScalar(double value);
// The TTY line, at most `width` - 1 columns (the last column is left free so that terminals do
// not wrap). When the full line does not fit, scalars are dropped from the end, then the bar
// shrinks and disappears, then the line is cut.
std::string formatProgressLine(const ProgressState& state, int width);
// The non-TTY log line: the TTY line without the bar and without a width limit.
std::string formatProgressLog(const ProgressState& state);

// Threads: one thread at a time (the training loop). Blocking: update() writes at most one line
// to `out` or the log. Throws nothing of its own; the destructor ends an unfinished TTY line.
class ProgressReporter {
 public:
  // `first_step` is the step a resumed run starts from: those steps count toward the bar but not
  // toward the rate.
  ProgressReporter(std::string label, int64_t total_steps, int64_t first_step = 0, ProgressOptions options = {});
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // `step` = steps done so far. Draws or logs when the interval has passed (always the first time,
  // and when step reaches total_steps).
  void update(int64_t step, const std::vector<std::pair<std::string, double>>& scalars);
  // Draws the final line (TTY: then a newline; log: unless it was the last line logged). Idempotent.
  void finish();

  // The state the next line would show. Exposed for tests.
  ProgressState state() const;

 private:
  double now() const;
  void emit(bool final);

  std::string label_;
  int64_t total_;
  ProgressOptions options_;
  bool tty_;
  int64_t step_;
  std::vector<std::pair<std::string, double>> scalars_;
  // (time, step) of recent updates, oldest first; the rate is taken across this window.
  std::deque<std::pair<double, int64_t>> window_;
  std::optional<double> last_emit_time_;
  int64_t last_emitted_step_ = -1;
  bool finished_ = false;
};

}  // namespace gramrl::metrics
