// eoscale: the command line of the EOScale C++ engine.
//
//   eoscale calc     -i A=in.tif --calc "(A.b2 - A.b4) / (A.b2 + A.b4)" -o out.tif
//   eoscale pipeline read in.tif ! ndwi ! threshold --gt 0 ! write out.tif
//   eoscale stats    -i in.tif --histogram-bins 16
//
// Exit status: 0 success, 1 failure, 2 usage error, 128 + N after signal N.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "cpl_conv.h"
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

// GDAL's block cache holds what GDAL decodes for reads the engine does not
// make block by block (aligned reads through a warped VRT, their JPEG 2000
// sources). GDAL's own default is 5 % of the RAM, which such a run fills
// whatever the image: 892 MiB of RSS for a 2-date MNDWI at 10980 px on a
// 24 GiB machine. This bound holds a few rows of 1024 x 1024 JPEG 2000 tiles
// per input across a Sentinel-2 tile (36.7 s for that run with 160 MiB,
// against 58 s with 64 MiB, which makes GDAL decode tiles again).
// GDAL_CACHEMAX (environment) keeps its meaning.
constexpr int64_t kDefaultGdalCacheBytes = int64_t{256} << 20;

}  // namespace

int main(int argc, char** argv) {
  if (!eoscale::examples::InstallStopSignalHandlers()) {
    std::perror("eoscale: sigaction");
    return eoscale::cli::kExitFailure;
  }
  GDALAllRegister();
  // The program owns its process: it may size GDAL's cache (the library never does).
  if (CPLGetConfigOption("GDAL_CACHEMAX", nullptr) == nullptr) GDALSetCacheMax64(kDefaultGdalCacheBytes);
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
