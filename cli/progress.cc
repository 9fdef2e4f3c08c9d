#include "progress.h"

#include <algorithm>
#include <cstdio>

namespace eoscale::cli {

namespace {

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buf;
}

}  // namespace

void ProgressBar::Start(std::string label) {
  std::lock_guard<std::mutex> l(mu_);
  label_ = std::move(label);
  drawn_ = false;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_;
}

void ProgressBar::Update(int64_t done, int64_t total, const char* unit) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> l(mu_);
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total;
  if (drawn_ && !last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 1.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  std::string eta = "--:--";
  if (last) {
    eta = Duration(elapsed);
  } else if (done > 0 && elapsed > 0) {
    eta = Duration(elapsed * (total - done) / done);
  }
  char counts[96] = "";
  if (unit != nullptr) {
    std::snprintf(counts, sizeof counts, "  %lld/%lld %s  %.0f/s", static_cast<long long>(done),
                  static_cast<long long>(total), unit, rate);
  }
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%%s  %s %s\x1b[K", label_.c_str(), filled, "##############################",
               kWidth - filled, "", static_cast<int>(fraction * 100), counts, last ? "in" : "ETA", eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  std::lock_guard<std::mutex> l(mu_);
  if (enabled_ && drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace eoscale::cli
