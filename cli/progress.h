// A one-line progress bar on stderr: percentage, tile tasks, rate and ETA,
// redrawn in place at most ten times a second.
#ifndef EOSCALE_CLI_PROGRESS_H_
#define EOSCALE_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"

namespace eoscale::cli {

class ProgressBar {
 public:
  // Draws nothing when `enabled` is false.
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  // Starts a phase ("run", "cog"): the bar restarts from 0 with this label.
  void Start(std::string label);
  // `done` of `total` units (`unit` null: a fraction, no counts shown).
  // Thread-safe.
  void Update(int64_t done, int64_t total, const char* unit);
  // Ends the line if something was drawn. Call after the phase's last
  // Update, from the thread that started it.
  void Finish();

 private:
  const bool enabled_;
  // The engine calls Update one call at a time, but from worker threads,
  // and Finish runs on the main thread: the mutex orders them (for TSan
  // too, whatever oneTBB's uninstrumented hand-offs).
  std::mutex mu_;
  std::string label_ ABSL_GUARDED_BY(mu_);
  bool drawn_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point start_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_draw_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_PROGRESS_H_
