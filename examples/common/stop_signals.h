// Stop signals for the command-line programs: SIGINT, SIGTERM and SIGHUP
// cancel the run in progress, which removes every temporary output file and
// leaves previous outputs as they were; the program then exits 128 + signal.
//
// The library never installs signal handlers (it is embedded in programs
// that have their own); only the programs call InstallStopSignalHandlers().
// The handler only records the signal in a lock-free atomic (it is
// async-signal-safe); the program's progress callback reads it after each
// tile task and returns false, which cancels the run (Context::Run returns
// CANCELLED and every sink is aborted).
//
// The handlers are installed with SA_RESETHAND: a second signal of the same
// kind gets the default action (the process dies at once, as a user
// pressing Ctrl-C twice expects; its temporaries are then stale files that
// the next run writing the same outputs removes).
//
//   eoscale::examples::InstallStopSignalHandlers();
//   options.progress = [](const eoscale::Progress&) { return !eoscale::examples::StopRequested(); };
//   ... run ...
//   if (int sig = eoscale::examples::StopSignal()) return eoscale::examples::ExitCodeForSignal(sig);
#ifndef EOSCALE_EXAMPLES_COMMON_STOP_SIGNALS_H_
#define EOSCALE_EXAMPLES_COMMON_STOP_SIGNALS_H_

#include <string>

namespace eoscale::examples {

// Installs the handlers of SIGINT, SIGTERM and SIGHUP (sigaction), except
// for a signal already ignored when the program starts, which stays ignored
// (`nohup` ignores SIGHUP; a shell without job control ignores SIGINT for
// its background jobs). Returns false (errno set) if one could not be
// installed. Call once, early in main, before any thread starts.
bool InstallStopSignalHandlers();

// The first stop signal received, 0 if none. Thread-safe and
// async-signal-safe.
int StopSignal();
inline bool StopRequested() { return StopSignal() != 0; }

// 128 + sig, the shell's convention for a process stopped by a signal.
inline int ExitCodeForSignal(int sig) { return 128 + sig; }

// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
std::string SignalName(int sig);

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_COMMON_STOP_SIGNALS_H_
