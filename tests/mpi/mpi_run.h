// Runs a program, alone or under mpirun, as a child process for the MPI
// tests: exit status, stdout and stderr, with a timeout (a job that hangs
// fails the test instead of blocking it).
#ifndef EOSCALE_TESTS_MPI_MPI_RUN_H_
#define EOSCALE_TESTS_MPI_MPI_RUN_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace eoscale::testing {

struct RunResult {
  int status = -1;  // exit status, 128 + N after signal N
  bool timed_out = false;
  double seconds = 0;
  std::string out, err;
};

inline std::string SlurpFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// `argv` run in a process group of its own (killed whole on timeout).
inline RunResult RunProgram(std::vector<std::string> argv, int timeout_seconds = 120) {
  char dir[] = "/tmp/eoscale-mpi-log-XXXXXX";
  const std::string logs = ::mkdtemp(dir);
  std::vector<char*> ptrs;
  for (std::string& a : argv) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  const int out = ::open((logs + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open((logs + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execvp(ptrs[0], ptrs.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  RunResult r;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_seconds)) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = SlurpFile(logs + "/out");
  r.err = SlurpFile(logs + "/err");
  std::filesystem::remove_all(logs);
  return r;
}

// `program args...` under `mpirun -n ranks` on this machine (oversubscribed:
// the CI machine has 2 cores). Each job gets a session folder of its own
// (orte_tmpdir_base): Open MPI 4.1's jobs share /tmp/ompi.<host>.<uid>, and
// one ending removes it while another starts ("A call to mkdir was unable
// to create the desired directory", orte_init failed): measured 2 failures
// in 75 `mpirun -n 2 true` run three at a time, none with a folder each.
inline RunResult RunMpi(int ranks, const std::string& program, const std::vector<std::string>& args,
                        int timeout_seconds = 120) {
  char session[] = "/tmp/eoscale-ompi-XXXXXX";
  if (::mkdtemp(session) == nullptr) {
    RunResult failed;
    failed.err = "cannot create a session folder for mpirun under /tmp";
    return failed;
  }
  std::vector<std::string> argv = {EOSCALE_MPIEXEC, "--mca", "orte_tmpdir_base", session, "-n", std::to_string(ranks),
                                   "--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  argv.push_back(program);
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunProgram(std::move(argv), timeout_seconds);
  std::filesystem::remove_all(session);
  return r;
}

// The files in `dir` (names only, sorted).
inline std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The line of `text` starting with `prefix` (empty when none).
inline std::string LineStarting(const std::string& text, const std::string& prefix) {
  size_t p = text.rfind("\n" + prefix);
  p = text.compare(0, prefix.size(), prefix) == 0 ? 0 : (p == std::string::npos ? p : p + 1);
  if (p == std::string::npos) return {};
  return text.substr(p, text.find('\n', p) - p);
}

}  // namespace eoscale::testing

#endif  // EOSCALE_TESTS_MPI_MPI_RUN_H_
