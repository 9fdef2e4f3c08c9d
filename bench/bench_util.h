// Shared by the benchmarks: the data cache folder, fresh child processes
// that report their wall time and peak RSS, reading files once before
// timing, a temporary folder, and a console reporter that ends with a
// summary table of medians and ratios to a baseline.
//
// Nothing here starts oneTBB: the macro benchmark's parent process must
// never run the engine (its children do).
#ifndef EOSCALE_BENCH_BENCH_UTIL_H_
#define EOSCALE_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"

namespace eoscale::bench {

// $EOSCALE_BENCH_CACHE, else $XDG_CACHE_HOME/eoscale, else ~/.cache/eoscale.
absl::StatusOr<std::filesystem::path> CacheRoot();

// A fresh folder under the system's temporary folder, removed with its
// content on destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

// What a child run sends back. Plain bytes: parent and child are the same
// binary.
struct ChildReport {
  int ok = 0;
  double wall_seconds = 0;      // measured by the child around the work
  int64_t pixels = 0;           // output pixels
  int64_t peak_live_bytes = 0;  // pixel buffers live at the peak (see the caller)
  double check[2] = {0, 0};     // a result the variants must agree on
  uint64_t output_hash = 0;     // of the output's pixels (OutputHash), 0 if not computed
  int64_t work_peak_rss_bytes = 0;  // the child's peak RSS when the timed work ended (PeakRss)
  char error[1024] = {};
};

struct ChildOutcome {
  ChildReport report;
  int64_t peak_rss_bytes = 0;  // the child's ru_maxrss over its whole life (wait4)
};

// This process's peak resident set so far (getrusage's ru_maxrss), in bytes.
int64_t PeakRss();

// Runs this binary again (/proc/self/exe) as a fresh process with `args`
// (argv[1..]) and waits for it. The child writes its report with
// SendReport; its peak RSS is that of a fresh process, as /usr/bin/time
// would show it. The child's stdout and stderr are the parent's.
// Errors: spawn failure, the child died or sent no report.
absl::StatusOr<ChildOutcome> RunSelf(const std::vector<std::string>& args);

// How a child process ended: its exit status and peak RSS (wait4). Errors:
// wait4 failed, or a signal killed the child.
struct ChildExit {
  int status = 0;
  int64_t peak_rss_bytes = 0;
};
absl::StatusOr<ChildExit> WaitForChild(pid_t pid);

// Runs `body` in a forked child of this process (which leaves with _exit,
// running none of the parent's atexit handlers or static destructors) and
// waits for it. The child fills the `size` bytes at `report`, a trivially
// copyable struct already initialised by the caller; they are sent back over
// a pipe into `report`. Returns the child's peak RSS in bytes (wait4).
// Errors: fork failure, the child died or sent no report.
absl::StatusOr<int64_t> RunForked(const std::function<void(void* report)>& body, void* report, size_t size);

// In a child started by RunSelf: sends the report. Returns false if the
// parent's pipe is gone.
bool SendReport(const ChildReport& report);
void SetError(ChildReport* report, const absl::Status& status);

// Reads every byte of `paths` once (plain read(2)), so that no timed run
// pays for the first read from disk. Returns the bytes read.
absl::StatusOr<int64_t> WarmUp(const std::vector<std::string>& paths);

// A 64-bit FNV-1a hash of every pixel of every band of the rasters at
// `paths`, in file, band, row, column order (the files' block layout does
// not matter). Bounds GDAL's block cache to 16 MiB first (and leaves it so).
absl::StatusOr<uint64_t> OutputHash(const std::vector<std::string>& paths);

// The load average over the last minute ("-1" if unknown).
double LoadAverage1();

// Parses "1024,3500" into ints (> 0). Errors: anything else.
absl::StatusOr<std::vector<int>> ParseIntList(const std::string& s);

// The console reporter (tabular counters) that, at the end, prints one
// markdown table per group of benchmarks: the median (or the single run)
// of each variant's wall time and counters, and the ratio of each variant's
// wall time to the baseline variant's, measured in the same process run.
//
// A benchmark takes part when its name is "<group>/<variant>": the last
// '/' splits it. Aggregate rows other than the median are ignored. Runs
// that ended in an error are counted (errors()) and left out.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  // `baseline`: the variant the ratios divide by (empty: no summary, the
  // reporter only counts errors); `counters`: the counters to show, in
  // order (missing ones are left blank).
  SummaryReporter(std::string baseline, std::vector<std::string> counters);
  void ReportRuns(const std::vector<Run>& reports) override;
  void Finalize() override;
  // Runs that ended in an error (SkipWithError) so far.
  int errors() const { return errors_; }

 private:
  int errors_ = 0;
  struct Figures {
    // Single runs, until (if ever) the median aggregate arrives.
    std::vector<double> walls;
    std::map<std::string, std::vector<double>> samples;
    bool has_median = false;
    double median_seconds = 0;
    std::map<std::string, double> median_counters;
  };
  std::string baseline_;
  std::vector<std::string> counters_;
  // group -> variant -> figures (printed in natural order, baseline first).
  std::vector<std::string> groups_;
  std::map<std::string, std::vector<std::string>> variants_;
  std::map<std::string, std::map<std::string, Figures>> figures_;
};

// Runs the benchmarks selected by the flags with `reporter` for the
// console, then benchmark::Shutdown(). Returns the exit code: 1 if a run
// failed, else 0.
int RunBenchmarks(SummaryReporter* reporter);

}  // namespace eoscale::bench

#endif  // EOSCALE_BENCH_BENCH_UTIL_H_
