#include "session.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bbox_crs.h"
#include "cog.h"
#include "cpl_conv.h"
#include "eoscale/graph/report.h"
#include "gdal.h"
#include "stop_signals.h"

namespace eoscale::cli {

bool ParseCommonOption(const std::string& option, ArgReader& r, bool writes, CommonOptions* o) {
  auto flag = [&] {
    if (r.HasInlineValue()) throw UsageError(absl::StrCat(option, " takes no value"));
  };
  if (option == "--workers") {
    o->workers = static_cast<int>(ParseInteger(option, r.Value(option), 1, 1024));
  } else if (option == "--memory") {
    o->memory = ParseMemory(option, r.Value(option));
  } else if (option == "--tile-size") {
    o->tile_size = static_cast<int>(ParseInteger(option, r.Value(option), 1, 1 << 20));
  } else if (option == "--window") {
    if (o->bbox) throw UsageError("--window and --bbox are exclusive");
    o->window = ParseWindow(option, r.Value(option));
  } else if (option == "--bbox") {
    if (o->window) throw UsageError("--window and --bbox are exclusive");
    o->bbox = ParseBox(option, r.Value(option));
  } else if (option == "--bbox-crs") {
    o->bbox_crs = r.Value(option);
    if (absl::Status s = CheckCrs(o->bbox_crs); !s.ok()) throw UsageError(absl::StrCat(option, ": ", s.message()));
  } else if (writes && option == "--co") {
    o->creation_options.push_back(ParseKeyValue(option, r.Value(option)));
  } else if (writes && option == "--overwrite") {
    flag();
    o->overwrite = true;
  } else if (writes && option == "--cog") {
    flag();
    o->cog = true;
  } else if (writes && option == "--no-sync") {
    flag();
    o->durable = false;
  } else if (option == "--dot") {
    o->dot_path = r.Value(option);
  } else if (option == "--trace") {
    o->trace_path = r.Value(option);
  } else if (option == "--report") {
    flag();
    o->report = true;
  } else if (option == "--progress") {
    flag();
    o->progress = CommonOptions::Progress::kOn;
  } else if (option == "--quiet" || option == "-q") {
    flag();
    o->progress = CommonOptions::Progress::kOff;
  } else {
    return false;
  }
  return true;
}

std::string CommonOptionsHelp(bool writes) {
  std::string s =
      "Common options:\n"
      "  --workers N        worker threads (default: the machine's hardware threads)\n"
      "  --memory SIZE      memory ceiling of the run, e.g. 512MiB, 2GiB, 1.5GB (default: 64 MiB,\n"
      "                     or the graph's minimum working set plus a tile per worker when\n"
      "                     larger); GDAL's block cache, which holds what GDAL decodes for\n"
      "                     aligned (-r) and JPEG 2000 reads, is bounded apart: 256 MiB, or\n"
      "                     GDAL_CACHEMAX when set in the environment\n"
      "  --tile-size PX     side of the square tiles (default: a few hundred pixels, aligned to\n"
      "                     the inputs' blocks)\n"
      "  --window C,R,W,H   process only this pixel window (column, row, width, height)\n"
      "  --bbox XMIN,YMIN,XMAX,YMAX\n"
      "                     process only this box, in the georeferenced coordinates (CRS) of the inputs,\n"
      "                     snapped outward to whole pixels; pixels equal those of a whole run\n"
      "  --bbox-crs CRS     the CRS --bbox is given in (EPSG:4326, WKT, PROJ): the box's outline\n"
      "                     is transformed into the image's CRS and its envelope taken\n";
  if (writes) {
    s += "  --co KEY=VALUE     GDAL GeoTIFF creation option (repeatable), e.g. --co COMPRESS=DEFLATE\n"
         "  --overwrite        replace existing outputs (refused otherwise)\n"
         "  --cog              write Cloud Optimized GeoTIFFs (with overviews, DEFLATE by default)\n"
         "  --no-sync          leave the outputs in the page cache for the kernel to write back\n"
         "                     later, as GDAL's tools do, instead of waiting for the disk (fsync):\n"
         "                     faster on a slow disk; a system crash or power loss soon after the\n"
         "                     run may then lose an output and the file it replaced\n";
  }
  s += "  --dot FILE         write the graph, annotated with the run's figures (Graphviz DOT)\n"
       "  --trace FILE       write every tile task as Chrome trace-event JSON (Perfetto)\n"
       "  --report           print the memory report per node on stderr after the run\n"
       "  --progress         draw the progress bar even when stderr is not a terminal\n"
       "  --quiet, -q        no progress bar\n"
       "  --help, -h         this help\n"
       "Options take their value as '--name value' or '--name=value'.\n"
       "Exit status: 0 success, 1 failure, 2 usage error (nothing was run), 128+N after signal N\n"
       "(SIGINT, SIGTERM, SIGHUP: the run is cancelled, no temporary file is left and existing files\n"
       "keep their bytes).\n";
  return s;
}

namespace {

bool ProgressEnabled(CommonOptions::Progress p) {
  switch (p) {
    case CommonOptions::Progress::kOn: return true;
    case CommonOptions::Progress::kOff: return false;
    case CommonOptions::Progress::kAuto: break;
  }
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace

Session::Session(std::string command, CommonOptions options)
    : command_(std::move(command)), options_(std::move(options)), progress_(ProgressEnabled(options_.progress)) {}

Session::~Session() = default;

absl::StatusOr<Context*> Session::context() {
  if (context_) return context_.get();
  ContextOptions o;
  o.workers =
      options_.workers > 0 ? options_.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.memory_budget_bytes = options_.memory;
  o.tiling.tile_size = options_.tile_size;
  o.trace = !options_.trace_path.empty();
  // Called from the workers one at a time: a stop signal cancels the run at
  // the next tile task.
  o.progress = [this](const Progress& p) {
    if (examples::StopRequested()) return false;
    progress_.Update(p.tiles_done, p.tiles_total, "tiles");
    return true;
  };
  absl::StatusOr<std::unique_ptr<Context>> c = Context::Create(std::move(o));
  if (!c.ok()) return c.status();
  context_ = *std::move(c);
  return context_.get();
}

std::optional<Window> Session::Region(const Profile& p, const std::string& what) const {
  const Window image{0, 0, p.width, p.height};
  if (options_.window) {
    const Window& w = *options_.window;
    if (!image.Contains(w)) {
      throw UsageError(absl::StrCat("--window ", w.x, ",", w.y, ",", w.width, ",", w.height, " is not inside ", what,
                                    " (", p.width, " x ", p.height, " pixels)"));
    }
    return w;
  }
  if (!options_.bbox) {
    if (!options_.bbox_crs.empty()) throw UsageError("--bbox-crs needs --bbox");
    return std::nullopt;
  }
  std::array<double, 4> b = *options_.bbox;
  if (!options_.bbox_crs.empty()) {
    absl::StatusOr<std::array<double, 4>> t = TransformBox(b, options_.bbox_crs, p.crs_wkt);
    if (!t.ok()) throw UsageError(absl::StrCat("--bbox-crs on ", what, ": ", t.status().message()));
    b = *t;
  }
  const auto& g = p.geotransform;
  if (!p.HasGeotransform()) throw UsageError(absl::StrCat("--bbox needs a georeferenced image; ", what, " has none"));
  if (g[2] != 0 || g[4] != 0 || g[1] == 0 || g[5] == 0) {
    throw UsageError(absl::StrCat("--bbox on ", what, ": rotated geotransforms are not supported (use --window)"));
  }
  // Pixel coordinates of the box's edges; snapped outward, with a tolerance
  // of 1e-6 pixel so that a box on pixel edges is not grown by rounding.
  const double c0 = (b[0] - g[0]) / g[1], c1 = (b[2] - g[0]) / g[1];
  const double r0 = (b[1] - g[3]) / g[5], r1 = (b[3] - g[3]) / g[5];
  constexpr double kTol = 1e-6;
  double x0 = std::floor(std::min(c0, c1) + kTol), x1 = std::ceil(std::max(c0, c1) - kTol);
  double y0 = std::floor(std::min(r0, r1) + kTol), y1 = std::ceil(std::max(r0, r1) - kTol);
  x0 = std::max(x0, 0.0);
  y0 = std::max(y0, 0.0);
  x1 = std::min(x1, static_cast<double>(p.width));
  y1 = std::min(y1, static_cast<double>(p.height));
  if (!(x1 > x0) || !(y1 > y0)) {
    throw UsageError(absl::StrCat("--bbox ", b[0], ",", b[1], ",", b[2], ",", b[3], " does not intersect ", what, " (",
                                  g[0], ",", g[3] + g[5] * p.height, ",", g[0] + g[1] * p.width, ",", g[3], ")"));
  }
  return Window{static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x1 - x0), static_cast<int>(y1 - y0)};
}

void Session::CheckOutput(const std::string& path, bool overwrite) const {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  if (!ec && std::filesystem::exists(st)) {
    if (!overwrite) throw UsageError(absl::StrCat("output '", path, "' exists; add --overwrite to replace it"));
    if (std::filesystem::is_directory(st)) throw UsageError(absl::StrCat("output '", path, "' is a folder"));
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!std::filesystem::is_directory(parent, ec)) {
    throw UsageError(absl::StrCat("output '", path, "': folder '", parent.string(), "' does not exist"));
  }
}

void Session::Error(const std::string& message) const {
  std::fprintf(stderr, "eoscale %s: %s\n", command_.c_str(), message.c_str());
}

int Session::StoppedExit(bool completed) const {
  const int sig = examples::StopSignal();
  if (sig == 0) return 0;
  Error(absl::StrCat(
      "stopped by ", examples::SignalName(sig),
      completed ? " after the run completed: the outputs are complete" : ": no output written, previous files kept"));
  return examples::ExitCodeForSignal(sig);
}

int Session::Run() {
  absl::StatusOr<Context*> c = context();
  if (!c.ok()) {
    Error(c.status().ToString());
    return kExitFailure;
  }
  if (int code = StoppedExit(false)) return code;
  progress_.Start(command_);
  const absl::Status s = (*c)->Run();
  progress_.Finish();
  if (int code = StoppedExit(s.ok() && cogs_.empty())) {
    RemoveCogTemporaries();
    return code;
  }
  // The graph and the trace are written even after a failure: they help
  // to see where it failed.
  if (!options_.dot_path.empty()) {
    if (absl::Status d = (*c)->WriteDot(options_.dot_path); !d.ok()) Error(d.ToString());
  }
  if (!options_.trace_path.empty()) {
    if (absl::Status t = (*c)->WriteTrace(options_.trace_path); !t.ok()) Error(t.ToString());
  }
  if (!s.ok()) {
    RemoveCogTemporaries();
    Error(s.ToString());
    return kExitFailure;
  }
  if (options_.report) {
    std::fprintf(stderr, "%s", FormatMemoryReport((*c)->last_run_stats()).c_str());
    std::fprintf(stderr, "GDAL block cache (outside the budget): at most %lld MiB%s\n",
                 static_cast<long long>(GDALGetCacheMax64() >> 20),
                 CPLGetConfigOption("GDAL_CACHEMAX", nullptr) != nullptr ? " (GDAL_CACHEMAX)" : "");
  }
  const int code = FinishCogs();
  if (code != kExitOk) return code;
  // A signal after the last COG was moved into place: the outputs are complete.
  if (int stopped = StoppedExit(true)) return stopped;
  return kExitOk;
}

}  // namespace eoscale::cli

namespace eoscale::cli {

absl::Status Session::AddOutput(const Image& image, const std::string& path, std::optional<Window> window,
                                bool overwrite, bool cog, const std::vector<std::string>& extra_options) {
  CheckOutput(path, overwrite || options_.overwrite);
  absl::StatusOr<Context*> c = context();
  if (!c.ok()) return c.status();
  std::vector<std::string> co = options_.creation_options;
  co.insert(co.end(), extra_options.begin(), extra_options.end());
  if (!cog) {
    return (*c)->Write(image, path,
                       WriteOptions{.creation_options = co, .window = window, .durable = options_.durable});
  }
  // The engine streams a plain tiled GeoTIFF under a hidden temporary name;
  // after the run, GDAL's COG driver makes the final file from it (cog.cc).
  absl::StatusOr<std::vector<std::string>> cog_options = CogOptions(co, context_->options().workers);
  if (!cog_options.ok()) return cog_options.status();
  CogOutput out{path, CogTemporaryName(path, "in"), *std::move(cog_options)};
  absl::Status s =
      (*c)->Write(image, out.temporary,
                  // Removed once the COG is made from it (in the page cache): no need to wait for the disk.
                  WriteOptions{.creation_options = {"BIGTIFF=IF_SAFER"}, .window = window, .durable = false});
  if (!s.ok()) return s;
  cogs_.push_back(std::move(out));
  return absl::OkStatus();
}

}  // namespace eoscale::cli
