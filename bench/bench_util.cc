#include "bench_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cpl_error.h"
#include "gdal_priv.h"

extern char** environ;

namespace eoscale::bench {
namespace {

// The fd on which a child started by RunSelf finds its report pipe.
constexpr int kReportFd = 3;

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

size_t ReadAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = read(fd, p + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string FormatSeconds(double s) {
  if (s >= 1.0) return absl::StrFormat("%.3f s", s);
  if (s >= 1e-3) return absl::StrFormat("%.1f ms", s * 1e3);
  if (s >= 1e-6) return absl::StrFormat("%.2f us", s * 1e6);
  return absl::StrFormat("%.1f ns", s * 1e9);
}

// "a/1024" < "a/3500" < "a/10980": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      const std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

absl::StatusOr<std::filesystem::path> CacheRoot() {
  if (const char* c = std::getenv("EOSCALE_BENCH_CACHE"); c != nullptr && *c != '\0') {
    return std::filesystem::path(c);
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "eoscale";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "eoscale";
  }
  return absl::FailedPreconditionError(
      "none of EOSCALE_BENCH_CACHE, XDG_CACHE_HOME, HOME is set: pass --data_dir");
}

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(const std::string& prefix) {
  std::error_code ec;
  std::string pattern =
      (std::filesystem::temp_directory_path(ec) / absl::StrCat(prefix, ".XXXXXX")).string();
  if (ec) return absl::UnavailableError(absl::StrCat("no temporary folder: ", ec.message()));
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create '", pattern, "': ", std::strerror(errno)));
  }
  return std::unique_ptr<TempDir>(new TempDir(pattern));
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<ChildExit> WaitForChild(pid_t pid) {
  int wstatus = 0;
  rusage usage{};
  pid_t waited;
  do {
    waited = wait4(pid, &wstatus, 0, &usage);
  } while (waited < 0 && errno == EINTR);
  if (waited < 0) return absl::InternalError(absl::StrCat("wait4: ", std::strerror(errno)));
  if (WIFSIGNALED(wstatus)) {
    return absl::InternalError(absl::StrCat("child killed by signal ", WTERMSIG(wstatus), " (",
                                            strsignal(WTERMSIG(wstatus)), ")"));
  }
  if (!WIFEXITED(wstatus)) return absl::InternalError("child stopped without exiting");
  return ChildExit{WEXITSTATUS(wstatus), static_cast<int64_t>(usage.ru_maxrss) * 1024};  // KiB on Linux
}

namespace {
// Waits for a child that was to send a report of which `got_report` says
// whether it did; returns the child's peak RSS.
absl::StatusOr<int64_t> WaitForReporter(pid_t pid, bool got_report) {
  absl::StatusOr<ChildExit> exit = WaitForChild(pid);
  if (!exit.ok()) return exit.status();
  if (!got_report) {
    return absl::InternalError(absl::StrCat("child exited with status ", exit->status, " without a report"));
  }
  return exit->peak_rss_bytes;
}
}  // namespace

absl::StatusOr<ChildOutcome> RunSelf(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  // Keep the write end away from fd kReportFd so that the dup2 below is a
  // real dup2 (which clears close-on-exec on the copy).
  const int write_end = fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
  close(fds[1]);
  if (write_end < 0) {
    close(fds[0]);
    return absl::InternalError(absl::StrCat("fcntl: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end, kReportFd);
  std::vector<std::string> argv_strings = {"/proc/self/exe"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(write_end);
  if (rc != 0) {
    close(fds[0]);
    return absl::InternalError(absl::StrCat("posix_spawn: ", std::strerror(rc)));
  }
  ChildOutcome outcome;
  const size_t got = ReadAll(fds[0], &outcome.report, sizeof(ChildReport));
  close(fds[0]);
  absl::StatusOr<int64_t> rss = WaitForReporter(pid, got == sizeof(ChildReport));
  if (!rss.ok()) return rss.status();
  outcome.report.error[sizeof(outcome.report.error) - 1] = '\0';
  outcome.peak_rss_bytes = *rss;
  return outcome;
}

absl::StatusOr<int64_t> RunForked(const std::function<void(void* report)>& body, void* report, size_t size) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    close(fds[0]);
    body(report);  // the child's copy of the caller's report
    const bool sent = WriteAll(fds[1], report, size);
    close(fds[1]);
    _exit(sent ? 0 : 3);
  }
  close(fds[1]);
  const size_t got = ReadAll(fds[0], report, size);
  close(fds[0]);
  return WaitForReporter(pid, got == size);
}

bool SendReport(const ChildReport& report) {
  const bool sent = WriteAll(kReportFd, &report, sizeof(report));
  close(kReportFd);
  return sent;
}

void SetError(ChildReport* report, const absl::Status& status) {
  report->ok = 0;
  const std::string s = status.ToString();
  std::snprintf(report->error, sizeof(report->error), "%s", s.c_str());
}

absl::StatusOr<int64_t> WarmUp(const std::vector<std::string>& paths) {
  std::vector<char> buffer(size_t{4} << 20);
  int64_t total = 0;
  for (const std::string& path : paths) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(absl::StrCat("cannot open '", path, "': ", std::strerror(errno)));
    }
    for (;;) {
      const ssize_t n = read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      total += n;
    }
    close(fd);
  }
  return total;
}

int64_t PeakRss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // KiB on Linux
}

absl::StatusOr<uint64_t> OutputHash(const std::vector<std::string>& paths) {
  GDALAllRegister();
  GDALSetCacheMax64(int64_t{16} << 20);
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& path : paths) {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  std::unique_ptr<GDALDataset> ds(
      GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  CPLPopErrorHandler();
  if (ds == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
  constexpr int kRows = 256;
  std::vector<unsigned char> buf;
  for (int b = 1; b <= ds->GetRasterCount(); ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    const GDALDataType type = band->GetRasterDataType();
    const int size = GDALGetDataTypeSizeBytes(type);
    buf.resize(static_cast<size_t>(w) * kRows * size);
    for (int y = 0; y < h; y += kRows) {
      const int rows = std::min(kRows, h - y);
      if (band->RasterIO(GF_Read, 0, y, w, rows, buf.data(), w, rows, type, 0, 0, nullptr) != CE_None) {
        return absl::DataLossError(absl::StrCat("cannot read rows ", y, ".. of '", path, "'"));
      }
      const size_t n = static_cast<size_t>(w) * rows * size;
      for (size_t i = 0; i < n; ++i) hash = (hash ^ buf[i]) * 0x100000001b3ULL;
    }
  }
  }
  return hash;
}

int RunBenchmarks(SummaryReporter* reporter) {
  benchmark::RunSpecifiedBenchmarks(reporter);
  benchmark::Shutdown();
  if (reporter->errors() > 0) {
    std::fprintf(stderr, "%d benchmark run(s) failed\n", reporter->errors());
    return 1;
  }
  return 0;
}

double LoadAverage1() {
  double load[1];
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

absl::StatusOr<std::vector<int>> ParseIntList(const std::string& s) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("not a positive integer: '", part, "' in '", s, "'"));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("empty list: '", s, "'"));
  return out;
}

SummaryReporter::SummaryReporter(std::string baseline, std::vector<std::string> counters)
    : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular),
      baseline_(std::move(baseline)),
      counters_(std::move(counters)) {}

void SummaryReporter::ReportRuns(const std::vector<Run>& reports) {
  ConsoleReporter::ReportRuns(reports);
  for (const Run& r : reports) {
    if (r.error_occurred) {
      ++errors_;
      continue;
    }
    if (baseline_.empty()) continue;
    if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
    // The name without the aggregate suffix and the "manual_time" marker.
    benchmark::BenchmarkName n = r.run_name;
    n.time_type.clear();
    n.repetitions.clear();
    n.iterations.clear();
    n.threads.clear();
    n.min_time.clear();
    const std::string name = n.str();
    const size_t slash = name.rfind('/');
    if (slash == std::string::npos) continue;
    const std::string group = name.substr(0, slash);
    const std::string variant = name.substr(slash + 1);
    if (std::find(groups_.begin(), groups_.end(), group) == groups_.end()) groups_.push_back(group);
    std::vector<std::string>& vs = variants_[group];
    if (std::find(vs.begin(), vs.end(), variant) == vs.end()) vs.push_back(variant);
    Figures& f = figures_[group][variant];
    const double seconds = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
    if (r.run_type == Run::RT_Aggregate) {
      f.has_median = true;
      f.median_seconds = seconds;
      for (const auto& [k, c] : r.counters) f.median_counters[k] = c.value;
    } else {
      f.walls.push_back(seconds);
      for (const auto& [k, c] : r.counters) f.samples[k].push_back(c.value);
    }
  }
}

void SummaryReporter::Finalize() {
  ConsoleReporter::Finalize();
  if (groups_.empty() || baseline_.empty()) return;
  std::ostream& out = GetOutputStream();
  out << "\nSummary (median of the runs; ratio = wall / wall of '" << baseline_
      << "' in this run)\n\n";
  out << "| benchmark | variant | time | ratio |";
  for (const std::string& c : counters_) out << ' ' << c << " |";
  out << "\n|---|---|---:|---:|";
  for (size_t i = 0; i < counters_.size(); ++i) out << "---:|";
  out << '\n';
  // Groups in natural order (sizes ascending); the baseline variant first.
  std::sort(groups_.begin(), groups_.end(), NaturalLess);
  for (auto& [group, vs] : variants_) {
    std::sort(vs.begin(), vs.end(), [this](const std::string& a, const std::string& b) {
      if ((a == baseline_) != (b == baseline_)) return a == baseline_;
      return NaturalLess(a, b);
    });
  }
  for (const std::string& group : groups_) {
    for (auto& [variant, f] : figures_[group]) {
      if (f.has_median) continue;
      f.median_seconds = Median(f.walls);
      for (const auto& [k, vs] : f.samples) f.median_counters[k] = Median(vs);
    }
    const auto base = figures_[group].find(baseline_);
    for (const std::string& variant : variants_[group]) {
      const Figures& f = figures_[group][variant];
      std::string ratio = "";
      if (base != figures_[group].end() && base->second.median_seconds > 0) {
        ratio = absl::StrFormat("%.2f", f.median_seconds / base->second.median_seconds);
      }
      out << "| " << group << " | " << variant << " | " << FormatSeconds(f.median_seconds) << " | "
          << ratio << " |";
      for (const std::string& c : counters_) {
        const auto it = f.median_counters.find(c);
        if (it == f.median_counters.end()) {
          out << "  |";
        } else {
          const double v = it->second;
          out << ' ' << (std::fabs(v) >= 100 ? absl::StrFormat("%.0f", v) : absl::StrFormat("%.3g", v))
              << " |";
        }
      }
      out << '\n';
    }
  }
  out << "\nload average (1 min) at the end: " << absl::StrFormat("%.2f", LoadAverage1()) << '\n';
  out.flush();
}

}  // namespace eoscale::bench
