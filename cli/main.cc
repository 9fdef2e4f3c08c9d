// eoscale: the command line of the EOScale C++ engine.
//
//   eoscale calc     -i A=in.tif --calc "(A.b2 - A.b4) / (A.b2 + A.b4)" -o out.tif
//   eoscale pipeline read in.tif ! ndwi ! threshold --gt 0 ! write out.tif
//   eoscale stats    -i in.tif --histogram-bins 16
//
// Exit status: 0 success, 1 failure, 2 usage error, 128 + N after signal N.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "gdal.h"
#include "session.h"
#include "stop_signals.h"

namespace {

const char kHelp[] =
    "usage: eoscale COMMAND [OPTIONS]\n"
    "\n"
    "Process large rasters tile by tile, in parallel, with bounded memory.\n"
    "\n"
    "Commands:\n"
    "  calc      band math over named inputs      eoscale calc -i A=in.tif --calc \"A.b1 * 2\" -o out.tif\n"
    "  pipeline  filters chained with '!'         eoscale pipeline read in.tif ! uniform --size 3 ! write out.tif\n"
    "  stats     min/max/mean/std/histogram JSON  eoscale stats -i in.tif --histogram-bins 16\n"
    "\n"
    "'eoscale COMMAND --help' describes a command and its options.\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 128+N after signal N.\n";

}  // namespace

int main(int argc, char** argv) {
  if (!eoscale::examples::InstallStopSignalHandlers()) {
    std::perror("eoscale: sigaction");
    return eoscale::cli::kExitFailure;
  }
  GDALAllRegister();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kHelp, stderr);
    return eoscale::cli::kExitUsage;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kHelp, stdout);
    return eoscale::cli::kExitOk;
  }
  try {
    if (command == "calc") return eoscale::cli::CalcCommand(args);
    if (command == "pipeline") return eoscale::cli::PipelineCommand(args);
    if (command == "stats") return eoscale::cli::StatsCommand(args);
    std::fprintf(stderr, "eoscale: unknown command '%s' (calc, pipeline, stats; see eoscale --help)\n",
                 command.c_str());
    return eoscale::cli::kExitUsage;
  } catch (const eoscale::cli::UsageError& e) {
    std::fprintf(stderr, "eoscale %s: %s\n", command.c_str(), e.what());
    return eoscale::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eoscale %s: %s\n", command.c_str(), e.what());
    return eoscale::cli::kExitFailure;
  }
}
