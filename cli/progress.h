// A one-line progress bar on stderr: percentage, tile tasks, rate and ETA,
// redrawn in place at most ten times a second.
#ifndef EOSCALE_CLI_PROGRESS_H_
#define EOSCALE_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace eoscale::cli {

class ProgressBar {
 public:
  // Draws nothing when `enabled` is false.
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  // Starts a phase ("run", "cog"): the bar restarts from 0 with this label.
  void Start(std::string label);
  // `done` of `total` units (`unit` null: a fraction, no counts shown). Called from one thread at a time (the engine's
  // progress callback guarantees it); never blocks on anything but stderr.
  void Update(int64_t done, int64_t total, const char* unit);
  // Ends the line if something was drawn. Call after the phase's last
  // Update, from the thread that started it.
  void Finish();

 private:
  bool enabled_;
  std::string label_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_PROGRESS_H_
