// What every subcommand shares: the common options (workers, memory,
// tiling, region, creation options, --overwrite, observability, progress),
// the context built from them, and the run with its exit status (0, 1, or
// 128 + N after a stop signal, with no temporary left).
#ifndef EOSCALE_CLI_SESSION_H_
#define EOSCALE_CLI_SESSION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "args.h"
#include "eoscale/core/profile.h"
#include "eoscale/graph/context.h"
#include "progress.h"

namespace eoscale::cli {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct CommonOptions {
  int workers = 0;     // 0: the machine's hardware threads
  int64_t memory = 0;  // bytes; 0: the engine's default
  int tile_size = 0;   // 0: the engine's default
  std::optional<Window> window;
  std::optional<std::array<double, 4>> bbox;
  std::string bbox_crs;                       // empty: the image's CRS
  std::vector<std::string> creation_options;  // --co, in order
  bool overwrite = false;
  bool cog = false;
  bool durable = true;  // --no-sync: false
  std::string dot_path;
  std::string trace_path;
  bool report = false;
  enum class Progress { kAuto, kOn, kOff } progress = Progress::kAuto;
};

// If `option` (just read from `r`) is a common option, reads its value into
// `o` and returns true. `writes`: the command writes files (--co, --cog,
// --overwrite apply). Throws UsageError on a bad value.
bool ParseCommonOption(const std::string& option, ArgReader& r, bool writes, CommonOptions* o);

// The --help text of the common options.
std::string CommonOptionsHelp(bool writes);

// One subcommand's run.
class Session {
 public:
  // `command` names the subcommand in messages ("calc").
  Session(std::string command, CommonOptions options);
  ~Session();

  const CommonOptions& options() const { return options_; }
  // The context, created on first use from the options.
  absl::StatusOr<Context*> context();

  // The pixel window --window or --bbox ask for on an image of profile `p`
  // (nullopt: the whole image). --bbox is in p's georeferenced coordinates
  // (or --bbox-crs's, transformed into p's CRS),
  // snapped outward to whole pixels and clipped to the image. Throws
  // UsageError: a window or box outside the image, a box on an image with
  // no geotransform or a rotated one.
  std::optional<Window> Region(const Profile& p, const std::string& what) const;

  // Refuses an output that exists unless --overwrite (UsageError naming it),
  // or whose folder does not exist.
  void CheckOutput(const std::string& path, bool overwrite) const;

  // Asks for `image` to be written to `path` at Run(): a region run when
  // `window` is set, with the --co options then `extra_options`, as a COG
  // when `cog`. Throws UsageError for an existing output without
  // `overwrite`; returns the engine's error (a bad creation option...).
  absl::Status AddOutput(const Image& image, const std::string& path, std::optional<Window> window, bool overwrite,
                         bool cog, const std::vector<std::string>& extra_options = {});

  // Runs the context's pending work with the progress bar and the stop
  // signals; writes --dot, --trace and prints --report afterwards. Returns
  // kExitOk, kExitFailure (message printed) or 128 + N after signal N
  // (message printed; the run was cancelled, nothing written).
  int Run();

  // The progress bar (for later phases, such as the COG translation).
  ProgressBar& progress() { return progress_; }
  // Prints "eoscale <command>: <message>" on stderr.
  void Error(const std::string& message) const;
  // 128 + N with a message if a stop signal came, else 0. `completed`: the
  // outputs were already in place when it came.
  int StoppedExit(bool completed) const;

 private:
  std::string command_;
  CommonOptions options_;
  ProgressBar progress_;
  std::unique_ptr<Context> context_;
  struct CogOutput {
    std::string path;       // the final file
    std::string temporary;  // the tiled GeoTIFF the engine writes
    std::vector<std::string> options;
  };
  std::vector<CogOutput> cogs_;
  // After a successful run: translates every COG output from its
  // temporary, then moves them all into place (cog.cc). Returns the exit
  // status.
  int FinishCogs();
  void RemoveCogTemporaries();
};

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_SESSION_H_
