// Helpers for the fault-injection tests (tests/fault_*_test.cc): child
// processes, file fingerprints, a watchdog, and a probe of the tile store.
#ifndef EOSCALE_TESTS_FAULT_UTIL_H_
#define EOSCALE_TESTS_FAULT_UTIL_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/array.h"
#include "eoscale/core/profile.h"
#include "eoscale/graph/context.h"
#include "gtest/gtest.h"

namespace eoscale::testing {

// The whole content of a file (empty when it cannot be read).
inline std::string FileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// FNV-1a 64 of a file's bytes, with its size: what "byte-for-byte unchanged"
// is checked against.
struct Fingerprint {
  uint64_t size = 0;
  uint64_t fnv = 0;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};
inline Fingerprint FingerprintOf(const std::string& path) {
  const std::string b = FileBytes(path);
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : b) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return {b.size(), h};
}
inline std::ostream& operator<<(std::ostream& os, const Fingerprint& f) {
  return os << f.size << " bytes, fnv1a64 " << std::hex << f.fnv << std::dec;
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// What a child process did.
struct ChildResult {
  bool exited = false;     // exited normally (exit_code is valid)
  int exit_code = -1;
  int signal = 0;          // the signal that ended it, if any
  std::string output;      // everything it printed on stdout
  pid_t pid = -1;
};

struct ChildOptions {
  // RLIMIT_FSIZE for the child (bytes); SIGXFSZ is ignored, so a write past
  // it fails with EFBIG instead of killing the process.
  std::optional<rlim_t> file_size_limit;
  // Called with each line the child prints; returning true kills the child
  // with SIGKILL at once.
  std::function<bool(const std::string& line)> on_line;
};

// Runs `argv` (argv[0] is the program path) with stdout piped back. Between
// fork and exec only async-signal-safe calls are made, so this is safe from a
// process that already runs threads (oneTBB's, GDAL's).
inline ChildResult RunChild(const std::vector<std::string>& argv, const ChildOptions& options = {}) {
  ChildResult r;
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return r;
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return r;
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    if (options.file_size_limit) {
      struct rlimit rl;
      rl.rlim_cur = rl.rlim_max = *options.file_size_limit;
      ::setrlimit(RLIMIT_FSIZE, &rl);
      ::signal(SIGXFSZ, SIG_IGN);  // ignored signals stay ignored across exec
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  r.pid = pid;
  ::close(fds[1]);
  std::string pending;
  char buf[4096];
  bool killed = false;
  while (true) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    r.output.append(buf, static_cast<size_t>(n));
    pending.append(buf, static_cast<size_t>(n));
    size_t eol;
    while (!killed && (eol = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      if (options.on_line && options.on_line(line)) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
}

// The "status CODE MESSAGE" line eoscale_fault_child prints last.
struct ChildStatus {
  int code = -1;
  std::string message;
};
inline std::optional<ChildStatus> ParseChildStatus(const std::string& output) {
  std::istringstream in(output);
  std::string line;
  std::optional<ChildStatus> found;
  while (std::getline(in, line)) {
    if (line.rfind("status ", 0) != 0) continue;
    ChildStatus s;
    const size_t sp = line.find(' ', 7);
    s.code = std::atoi(line.substr(7, sp - 7).c_str());
    s.message = sp == std::string::npos ? "" : line.substr(sp + 1);
    found = s;
  }
  return found;
}

// Runs `fn` on another thread; if it has not returned after `timeout`, the
// test process ends with a message (a hung run cannot be cancelled, and a
// test that waits forever is worse than one that fails).
template <typename R>
R WithWatchdog(std::chrono::seconds timeout, const std::string& what, std::function<R()> fn) {
  auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
  std::future<R> result = task->get_future();
  std::thread worker([task] { (*task)(); });
  if (result.wait_for(timeout) != std::future_status::ready) {
    std::fprintf(stderr, "watchdog: %s did not finish within %lld s: the run hangs\n", what.c_str(),
                 static_cast<long long>(timeout.count()));
    std::fflush(stderr);
    std::_Exit(86);
  }
  worker.join();
  return result.get();
}

// Runs a 1 x 1 u8 read through `ctx` and returns the run's peak of live tile
// bytes. The pool's peak starts at the bytes still live when a run starts, so
// this is 1 (the probe's one tile) exactly when every tile of earlier runs
// was freed.
inline int64_t LiveBytesProbe(Context& ctx) {
  Profile p;
  p.width = p.height = 1;
  p.type = PixelType::kU8;
  absl::StatusOr<Image> one = ctx.CreateConstant(p, 7);
  if (!one.ok()) return -1;
  absl::StatusOr<Array> a = ctx.ReadAll(*one);
  if (!a.ok()) return -1;
  return ctx.last_run_stats().peak_live_bytes;
}

// Records the status a user would see in the test's XML report
// (--gtest_output=xml), where docs/errors.md takes its messages from.
inline void RecordStatus(const absl::Status& s) {
  ::testing::Test::RecordProperty("error", s.ToString());
}

// The total budget (ContextOptions::memory_budget_bytes) whose tile part is
// at least `store` bytes, the smallest such: the engine gives GDAL's block
// cache clamp(total / 8, 1 MiB, 16 MiB) and tiles the rest.
inline int64_t GdalCacheFor(int64_t total) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  return std::clamp(total / 8, kMiB, 16 * kMiB);
}
inline int64_t MinTotalBudgetFor(int64_t store) {
  int64_t lo = 1, hi = store + (int64_t{16} << 20) + 1;  // hi always suffices
  while (lo < hi) {                                       // total - cache(total) is non-decreasing
    const int64_t mid = lo + (hi - lo) / 2;
    if (mid - GdalCacheFor(mid) >= store) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

}  // namespace eoscale::testing

#endif  // EOSCALE_TESTS_FAULT_UTIL_H_
