// What the tests/cli_*_test.cc files share: the `eoscale` program
// (EOSCALE_CLI_BIN) run as a child process (exit status, stdout and stderr,
// and a handle to signal a run in progress), a georeferenced test grid, and
// the short names the tests use (namespace eoscale::cli_test).
#ifndef EOSCALE_TESTS_CLI_PROGRAM_H_
#define EOSCALE_TESTS_CLI_PROGRAM_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "eoscale/core/profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::testing {

inline std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// The `eoscale` program started in the background with `args`, stdout and
// stderr to files in a folder of its own.
class Cli {
 public:
  explicit Cli(const std::vector<std::string>& args) {
    char dir[] = "/tmp/eoscale-cli-log-XXXXXX";
    log_dir_ = ::mkdtemp(dir);
    std::vector<std::string> argv = {EOSCALE_CLI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> ptrs;
    for (std::string& a : argv) ptrs.push_back(a.data());
    ptrs.push_back(nullptr);
    const int out = ::open((log_dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err = ::open((log_dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {  // async-signal-safe calls only, until exec
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      sigset_t set;
      sigemptyset(&set);
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        ::signal(sig, SIG_DFL);
        sigaddset(&set, sig);
      }
      ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
      ::execv(ptrs[0], ptrs.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(err);
  }
  ~Cli() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    std::filesystem::remove_all(log_dir_);
  }
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  pid_t pid() const { return pid_; }
  bool Running() {
    if (waited_) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) waited_ = true;
    return !waited_;
  }
  // The exit status, 128 + N for a process killed by signal N.
  int Wait() {
    if (!waited_) {
      ::waitpid(pid_, &status_, 0);
      waited_ = true;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  bool KilledBySignal() const { return waited_ && WIFSIGNALED(status_); }
  std::string Stdout() const { return Slurp(log_dir_ + "/stdout"); }
  std::string Stderr() const { return Slurp(log_dir_ + "/stderr"); }

 private:
  std::string log_dir_;
  pid_t pid_ = -1;
  bool waited_ = false;
  int status_ = 0;
};

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `eoscale args...` to its end.
inline CliResult RunCli(const std::vector<std::string>& args) {
  Cli c(args);
  CliResult r;
  r.code = c.Wait();
  r.out = c.Stdout();
  r.err = c.Stderr();
  return r;
}

// Waits until `ready()` or the program ends; false if it ended first or
// after 60 s.
inline bool WaitFor(Cli& p, const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    if (!p.Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// A `width` x `height` grid of 10 m pixels in UTM zone 31N (EPSG:32631),
// upper-left corner (600000, 5000000).
inline Profile Utm10m(int width, int height, int bands, PixelType type) {
  Profile p;
  p.width = width;
  p.height = height;
  p.bands = bands;
  p.type = type;
  p.geotransform = {600000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0};
  p.crs_wkt = EpsgWkt(32631);
  return p;
}

}  // namespace eoscale::testing

// The CLI tests live in this namespace and use these names unqualified.
namespace eoscale::cli_test {
using ::eoscale::testing::Cli;
using ::eoscale::testing::CliResult;
using ::eoscale::testing::GdalWarp;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::RunCli;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::Slurp;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::Utm10m;
using ::eoscale::testing::WaitFor;
using ::eoscale::testing::WriteFile;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;
using ::testing::Not;
}  // namespace eoscale::cli_test

#endif  // EOSCALE_TESTS_CLI_PROGRAM_H_
