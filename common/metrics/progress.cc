#include "common/metrics/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/core.h>

#include "common/core/logging.h"

namespace gramrl::metrics {
namespace {

constexpr int kDefaultWidth = 100;
constexpr int kFullBar = 20;
constexpr int kMinBar = 4;
// The rate is measured over about the last kRateWindowS seconds of updates (at least the last two
// updates), so it follows speed changes within a minute but does not jitter step to step.
constexpr double kRateWindowS = 30;
constexpr size_t kMaxWindowSamples = 512;

double steadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool hasTotal(const ProgressState& s) { return s.total > 0; }
bool hasRate(const ProgressState& s) { return std::isfinite(s.rate_steps_per_s) && s.rate_steps_per_s > 0; }

std::string counts(const ProgressState& s) {
  return hasTotal(s) ? fmt::format("{} {}/{}", s.label, s.step, s.total) : fmt::format("{} {}", s.label, s.step);
}

double fraction(const ProgressState& s) {
  return std::clamp(static_cast<double>(s.step) / static_cast<double>(s.total), 0.0, 1.0);
}

std::string bar(const ProgressState& s, int width) {
  const int filled = static_cast<int>(std::floor(fraction(s) * width));
  return "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "]";
}

// "12% 2.31 step/s ETA 6m21s" (no percentage or ETA without a total).
std::string speed(const ProgressState& s) {
  std::string out;
  if (hasTotal(s)) out = fmt::format("{}% ", static_cast<int>(std::floor(100 * fraction(s))));
  if (!hasRate(s)) {
    out += "-- step/s";
  } else if (s.rate_steps_per_s >= 1) {
    out += fmt::format("{:.2f} step/s", s.rate_steps_per_s);
  } else {
    // Slow RLHF steps read better as seconds per step than as "0.03 step/s".
    out += fmt::format("{:.1f} s/step", 1 / s.rate_steps_per_s);
  }
  if (hasTotal(s)) {
    const int64_t left = std::max<int64_t>(0, s.total - s.step);
    out += " ETA " + (left == 0 ? std::string("0s") : hasRate(s) ? formatDuration(left / s.rate_steps_per_s) : "--");
  }
  return out;
}

std::string join(const std::string& head, const std::string& bar_text, const std::string& tail,
                 const std::vector<std::pair<std::string, double>>& scalars, size_t n_scalars) {
  std::string line = head;
  if (!bar_text.empty()) line += " " + bar_text;
  line += " " + tail;
  for (size_t i = 0; i < n_scalars; ++i)
    line += fmt::format(" {}={}", scalars[i].first, formatScalar(scalars[i].second));
  return line;
}

// Cuts to at most `max` bytes without splitting a UTF-8 sequence.
std::string cut(std::string line, size_t max) {
  if (line.size() <= max) return line;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(line[end]) & 0xc0u) == 0x80u) --end;
  line.resize(end);
  return line;
}

int terminalWidth(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return kDefaultWidth;
}

}  // namespace

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600;
  const int64_t m = (total % 3600) / 60;
  const int64_t s = total % 60;
  if (h > 0) return fmt::format("{}h{:02d}m", h, m);
  if (m > 0) return fmt::format("{}m{:02d}s", m, s);
  return fmt::format("{}s", s);
}

std::string formatScalar(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  const double a = std::fabs(value);
  if (a == 0 || (a >= 1e-3 && a < 1e4)) return fmt::format("{:.3f}", value);
  return fmt::format("{:.2e}", value);
}

std::string formatProgressLine(const ProgressState& state, int width) {
  const size_t max = static_cast<size_t>(std::max(1, width - 1));
  const std::string head = counts(state);
  const std::string tail = speed(state);
  const size_t n = state.scalars.size();
  const int full_bar = hasTotal(state) ? kFullBar : 0;
  for (size_t shown = n + 1; shown-- > 0;) {
    std::string line = join(head, full_bar > 0 ? bar(state, full_bar) : "", tail, state.scalars, shown);
    if (line.size() <= max) return line;
  }
  // Without scalars it still does not fit: shrink the bar (each column saved is one byte).
  const std::string bare = join(head, "", tail, state.scalars, 0);
  if (full_bar > 0 && bare.size() + 3 + kMinBar <= max) {
    return join(head, bar(state, static_cast<int>(max - bare.size() - 3)), tail, state.scalars, 0);
  }
  return cut(bare, max);
}

std::string formatProgressLog(const ProgressState& state) {
  return join(counts(state), "", speed(state), state.scalars, state.scalars.size());
}

ProgressReporter::ProgressReporter(std::string label, int64_t total_steps, int64_t first_step, ProgressOptions options)
    : label_(std::move(label)), total_(total_steps), options_(std::move(options)), step_(first_step) {
  if (!options_.clock) options_.clock = steadySeconds;
  tty_ = options_.tty ? *options_.tty : (options_.out != nullptr && isatty(fileno(options_.out)) == 1);
  window_.emplace_back(now(), first_step);
}

ProgressReporter::~ProgressReporter() { finish(); }

double ProgressReporter::now() const { return options_.clock(); }

ProgressState ProgressReporter::state() const {
  ProgressState s;
  s.label = label_;
  s.step = step_;
  s.total = total_;
  const auto& [t0, s0] = window_.front();
  const auto& [t1, s1] = window_.back();
  if (t1 > t0 && s1 > s0) s.rate_steps_per_s = static_cast<double>(s1 - s0) / (t1 - t0);
  if (options_.keys.empty()) {
    const size_t n = std::min(scalars_.size(), kMaxShownScalars);
    s.scalars.assign(scalars_.begin(), scalars_.begin() + static_cast<std::ptrdiff_t>(n));
  } else {
    for (const std::string& key : options_.keys) {
      auto it = std::find_if(scalars_.begin(), scalars_.end(), [&](const auto& kv) { return kv.first == key; });
      if (it != scalars_.end()) s.scalars.push_back(*it);
    }
  }
  return s;
}

void ProgressReporter::update(int64_t step, const std::vector<std::pair<std::string, double>>& scalars) {
  if (finished_) return;
  const double t = now();
  step_ = step;
  if (!scalars.empty()) scalars_ = scalars;
  window_.emplace_back(t, step);
  while (window_.size() > 2 &&
         (window_.size() > kMaxWindowSamples || window_.back().first - window_[1].first >= kRateWindowS)) {
    window_.pop_front();
  }
  const double interval = tty_ ? options_.redraw_interval_s : options_.log_interval_s;
  const bool reached_end = total_ > 0 && step >= total_ && step != last_emitted_step_;
  if (!last_emit_time_ || t - *last_emit_time_ >= interval || reached_end) emit(false);
}

void ProgressReporter::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_) {
    emit(true);
  } else if (step_ != last_emitted_step_) {
    emit(true);
  }
}

void ProgressReporter::emit(bool final) {
  last_emit_time_ = now();
  last_emitted_step_ = step_;
  const ProgressState s = state();
  if (!tty_) {
    const std::string line = formatProgressLog(s);
    if (options_.log_sink) {
      options_.log_sink(line);
    } else {
      log::info("{}", line);
    }
    return;
  }
  const int width = options_.width > 0 ? options_.width : terminalWidth(options_.out);
  const std::string line = formatProgressLine(s, width);
  // A failed terminal write is not worth stopping training for; there is nowhere to report it.
  std::fprintf(options_.out, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(options_.out);
}

}  // namespace gramrl::metrics
