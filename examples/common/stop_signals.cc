#include "stop_signals.h"

#include <signal.h>

#include <atomic>
#include <string>

namespace eoscale::examples {
namespace {

// Lock-free, hence usable from a signal handler ([support.signal]).
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void RecordStopSignal(int sig) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, sig);  // keep the first one
}

}  // namespace

bool InstallStopSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = RecordStopSignal;
  sigemptyset(&sa.sa_mask);
  // SA_RESETHAND: a second signal kills (see the header). SA_RESTART: the
  // program's own blocking calls are not interrupted by the first one.
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    // A signal ignored when the program starts stays ignored: `nohup` ignores
    // SIGHUP, a shell without job control SIGINT for background jobs, and
    // the user meant it.
    struct sigaction old = {};
    if (::sigaction(sig, nullptr, &old) != 0) return false;
    if (old.sa_handler == SIG_IGN) continue;
    if (::sigaction(sig, &sa, nullptr) != 0) return false;
  }
  return true;
}

int StopSignal() { return g_stop_signal.load(); }

std::string SignalName(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(sig);
  }
}

}  // namespace eoscale::examples
