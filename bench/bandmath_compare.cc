// bandmath_compare: the seed's multi-date water mask written as ONE band-math
// expression, run by Orfeo ToolBox's otbcli_BandMath and by our Expression
// filter through a Context, on the same files, in one invocation.
//
//   date_1.tif ... date_D.tif  (generated once, cached)
//        |              |                    |                  |
//   otbcli_BandMath  Expression          Expression         plain loop
//   (all 4 bands)    (bands 2, 4 only)   (all 4 bands)      (reference)
//        |              |                    |                  |
//   otb_1.tif        expr_1.tif          expr_all_1.tif     plain_1.tif
//                 --> all compared pixel for pixel with expr_1.tif
//
// The expression, for D dates:
//   (im1b2-im1b4)/(im1b2+im1b4+0.001) > 0 && ... && (imDb2-imDb4)/(imDb2+imDb4+0.001) > 0
// with a uint8 output. BandMath reads every band of every input; the
// Context can open a file on the bands the expression references
// (filters::ExpressionBands), which is what "expr" does; "expr-all" opens
// all bands, as BandMath does, to show what that choice is worth.
//
// Every run happens in its own child process (OTB: fork + exec; ours: fork),
// so that each has its own peak RSS (wait4's ru_maxrss), and the variants
// alternate run by run. Walls are measured by the parent around the whole
// child for OTB (process start, library loading and application setup
// included) and inside the child around the whole pipeline (Context creation
// to the renamed output file) for ours. OTB's fixed cost is measured as a
// variant of its own, "otb-64px": the same command on 64 x 64 inputs. The parent never starts oneTBB
// (data generation runs in a child too): a forked child of a process with a
// live TBB scheduler may hang. Before the runs, the parent reads the inputs
// once so that no run pays for the disk.
//
// If otbcli_BandMath is not on PATH (or --no-otb), the OTB variant is skipped
// and said so; the other variants still run and are compared.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cpl_error.h"
#include "eoscale/filters/expression.h"
#include "eoscale/graph/context.h"
#include "gdal_priv.h"
#include "bench_util.h"
#include "plain_water_mask.h"
#include "s2_like.h"

extern char** environ;

namespace eoscale::bench {
namespace {

constexpr uint32_t kSeed = 42;
constexpr int kCompareRows = 256;
constexpr int kStartupSize = 64;

constexpr char kUsage[] =
    "usage: bandmath_compare [--size N] [--dates D] [--workers W] [--repeat R]\n"
    "                        [--ram MIB] [--data-dir DIR] [--tile-size PX] [--no-otb]\n"
    "                        [--smoke]\n"
    "\n"
    "Times the multi-date water mask written as one band-math expression, run by\n"
    "otbcli_BandMath (Orfeo ToolBox) and by EOScale's Expression filter, on the\n"
    "same synthetic Sentinel-2-like files; checks the outputs are identical.\n"
    "\n"
    "  --size N          image side in pixels (default 3500)\n"
    "  --dates D         dates (default 4)\n"
    "  --workers W       threads for every variant (OTB: ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS)\n"
    "                    (default 2)\n"
    "  --repeat R        runs of each variant (default 3)\n"
    "  --ram MIB         otbcli_BandMath's -ram (default 256, OTB's default)\n"
    "  --data-dir DIR    input cache root (default $XDG_CACHE_HOME/eoscale or\n"
    "                    ~/.cache/eoscale); inputs go to DIR/s2_like_<N>px_<D>dates\n"
    "  --tile-size PX    engine tile size (default: the engine's)\n"
    "  --no-otb          skip otbcli_BandMath even if it is on PATH\n"
    "  --smoke           size 256, 2 dates, 1 run; inputs in the temporary\n"
    "                    directory unless --data-dir is given (for CI)\n"
    "  --help            this text\n"
    "\n"
    "Exits non-zero when a run fails or the outputs differ.\n";

struct Options {
  int size = 3500;
  int dates = 4;
  int workers = 2;
  int repeat = 3;
  int ram_mib = 256;
  std::string data_dir;  // "" = the default cache root
  int tile_size = 0;
  bool no_otb = false;
  bool smoke = false;
};

absl::StatusOr<Options> ParseArgs(int argc, char** argv, bool* help) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  // --smoke sets defaults that explicit flags still override.
  if (std::find(args.begin(), args.end(), "--smoke") != args.end()) {
    o.smoke = true;
    o.size = 256;
    o.dates = 2;
    o.repeat = 1;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "--help" || name == "-h") {
      *help = true;
      return o;
    }
    if (name == "--smoke") continue;
    if (name == "--no-otb") {
      o.no_otb = true;
      continue;
    }
    std::string value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    }
    bool ok = true;
    if (name == "--size") {
      ok = absl::SimpleAtoi(value, &o.size) && o.size > 0;
    } else if (name == "--dates") {
      ok = absl::SimpleAtoi(value, &o.dates) && o.dates > 0;
    } else if (name == "--workers") {
      ok = absl::SimpleAtoi(value, &o.workers) && o.workers > 0;
    } else if (name == "--repeat") {
      ok = absl::SimpleAtoi(value, &o.repeat) && o.repeat > 0;
    } else if (name == "--ram") {
      ok = absl::SimpleAtoi(value, &o.ram_mib) && o.ram_mib > 0;
    } else if (name == "--data-dir") {
      o.data_dir = value;
      ok = !value.empty();
    } else if (name == "--tile-size") {
      ok = absl::SimpleAtoi(value, &o.tile_size) && o.tile_size >= 0;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", name));
    }
    if (!ok)
      return absl::InvalidArgumentError(absl::StrCat("bad value for ", name, ": '", value, "'"));
  }
  return o;
}

// The water mask of `dates` dates as one expression (G = band 2, NIR = band 4).
std::string WaterMaskExpression(int dates) {
  std::vector<std::string> terms;
  for (int d = 1; d <= dates; ++d) {
    terms.push_back(absl::StrFormat("(im%db2-im%db4)/(im%db2+im%db4+0.001) > 0", d, d, d, d));
  }
  return absl::StrJoin(terms, " && ");
}

absl::StatusOr<std::filesystem::path> DefaultCacheRoot() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "eoscale";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "eoscale";
  }
  return absl::FailedPreconditionError("neither XDG_CACHE_HOME nor HOME is set: pass --data-dir");
}

// The first executable `name` on PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = (std::filesystem::path(dir) / name).string();
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A fresh directory under the system's temporary directory, removed (with
// its content) on destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create() {
    std::error_code ec;
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / "bandmath_compare.XXXXXX").string();
    if (ec) return absl::UnavailableError(absl::StrCat("no temporary directory: ", ec.message()));
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot create '", pattern, "': ", std::strerror(errno)));
    }
    return std::unique_ptr<TempDir>(new TempDir(pattern));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

// What a child sends back through its pipe. Plain bytes: parent and child
// are the same binary.
struct ChildReport {
  int ok = 0;
  double wall_seconds = 0;
  int64_t pixels = 0;
  int64_t peak_live_bytes = 0;  // engine only
  char error[1024] = {};
};

struct ChildOutcome {
  ChildReport report;
  double max_rss_mib = 0;
};



void SetError(ChildReport* report, const absl::Status& status) {
  report->ok = 0;
  std::snprintf(report->error, sizeof(report->error), "%s", status.ToString().c_str());
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}


// Runs `body` in a forked child (bench_util's RunForked) and returns its
// report and peak RSS.
absl::StatusOr<ChildOutcome> RunInChild(const std::function<void(ChildReport*)>& body) {
  ChildOutcome outcome;
  absl::StatusOr<int64_t> rss =
      RunForked([&](void* r) { body(static_cast<ChildReport*>(r)); }, &outcome.report, sizeof(ChildReport));
  if (!rss.ok()) return rss.status();
  outcome.report.error[sizeof(outcome.report.error) - 1] = '\0';
  outcome.max_rss_mib = static_cast<double>(*rss) / (1 << 20);
  return outcome;
}

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  std::string text = s.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// Runs otbcli_BandMath as a child process (stdout and stderr to `log`), with
// ITK's thread count set to `workers`. The wall covers the whole process.
absl::StatusOr<ChildOutcome> RunOtb(const std::string& otb, const std::vector<std::string>& inputs,
                                    const std::string& output, const std::string& expr, int ram_mib,
                                    int workers, const std::string& log) {
  std::vector<std::string> args = {otb, "-il"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  for (const std::string& a :
       {std::string("-out"), output, std::string("uint8"), std::string("-exp"), expr,
        std::string("-ram"), absl::StrCat(ram_mib)}) {
    args.push_back(a);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=", 37) != 0) env_strings.push_back(*e);
  }
  env_strings.push_back(absl::StrCat("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=", workers));
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::fflush(stdout);
  std::fflush(stderr);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, otb.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", otb, ": ", std::strerror(rc)));
  absl::StatusOr<ChildExit> exit = WaitForChild(pid);
  const double wall = Seconds(start);
  if (!exit.ok() || exit->status != 0) {
    return absl::InternalError(absl::StrCat(
        exit.ok() ? absl::StrCat("child exited with status ", exit->status) : std::string(exit.status().message()),
        "; its log ends with:\n", Tail(log, 1500)));
  }
  ChildOutcome outcome;
  outcome.report.ok = 1;
  outcome.report.wall_seconds = wall;
  outcome.max_rss_mib = static_cast<double>(exit->peak_rss_bytes) / (1 << 20);
  return outcome;
}

// The Expression pipeline: open the dates (on the referenced bands only, or
// all of them), one Map, one Write.
void RunExpressionChild(const std::vector<std::string>& inputs, const std::string& output,
                        const std::string& expr, const Options& o, bool only_referenced_bands,
                        ChildReport* report) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<std::vector<int>>> bands = filters::ExpressionBands(expr);
  if (!bands.ok()) return SetError(report, bands.status());
  ContextOptions co;
  co.workers = o.workers;
  co.tiling.tile_size = o.tile_size;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(co);
  if (!ctx.ok()) return SetError(report, ctx.status());
  std::vector<Image> images;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int> selection;
    if (only_referenced_bands && i < bands->size()) selection = (*bands)[i];
    absl::StatusOr<Image> img = (*ctx)->Open(inputs[i], selection);
    if (!img.ok()) return SetError(report, img.status());
    images.push_back(*img);
  }
  filters::ExpressionOptions eo;
  eo.name = "water mask";
  if (only_referenced_bands) eo.input_bands = *bands;
  absl::StatusOr<MapFilter> f = filters::Expression(expr, PixelType::kU8, eo);
  if (!f.ok()) return SetError(report, f.status());
  absl::StatusOr<std::vector<Image>> mask = (*ctx)->Map(images, *f);
  if (!mask.ok()) return SetError(report, mask.status());
  if (absl::Status s = (*ctx)->Write((*mask)[0], output); !s.ok()) return SetError(report, s);
  if (absl::Status s = (*ctx)->Run(); !s.ok()) return SetError(report, s);
  report->wall_seconds = Seconds(start);
  report->ok = 1;
  report->pixels = static_cast<int64_t>(o.size) * o.size;
  report->peak_live_bytes = (*ctx)->last_run_stats().peak_live_bytes;
}

void RunPlainChild(const std::vector<std::string>& inputs, const std::string& output, int workers,
                   ChildReport* report) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<PlainResult> r = RunPlainWaterMask(inputs, output, workers);
  const double wall = Seconds(start);
  if (!r.ok()) return SetError(report, r.status());
  report->ok = 1;
  report->wall_seconds = wall;
  report->pixels = r->pixels;
}


struct Variant {
  std::string name;
  std::vector<double> walls;
  double max_rss_mib = 0;
  int64_t peak_live_bytes = 0;
  std::string first_output;

  double Best() const { return *std::min_element(walls.begin(), walls.end()); }
  double Median() const {
    std::vector<double> w = walls;
    std::sort(w.begin(), w.end());
    const size_t n = w.size();
    return n % 2 == 1 ? w[n / 2] : 0.5 * (w[n / 2 - 1] + w[n / 2]);
  }
};

// Counts the pixels where the first band of `a` and `b` differ; also returns
// the number of non-zero pixels of `a`.
absl::StatusOr<int64_t> CountDifferences(const std::string& a, const std::string& b,
                                         int64_t* nonzero_a) {
  GDALAllRegister();
  CPLPushErrorHandler(CPLQuietErrorHandler);
  std::unique_ptr<GDALDataset> da(
      GDALDataset::Open(a.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  std::unique_ptr<GDALDataset> db(
      GDALDataset::Open(b.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  CPLPopErrorHandler();
  if (da == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", a, "'"));
  if (db == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", b, "'"));
  const int w = da->GetRasterXSize();
  const int h = da->GetRasterYSize();
  if (db->GetRasterXSize() != w || db->GetRasterYSize() != h || da->GetRasterCount() != 1 ||
      db->GetRasterCount() != 1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("'%s' is %dx%dx%d, '%s' is %dx%dx%d", a, w, h, da->GetRasterCount(), b,
                        db->GetRasterXSize(), db->GetRasterYSize(), db->GetRasterCount()));
  }
  std::vector<uint8_t> ra(static_cast<size_t>(w) * kCompareRows);
  std::vector<uint8_t> rb(ra.size());
  int64_t differences = 0;
  *nonzero_a = 0;
  for (int y = 0; y < h; y += kCompareRows) {
    const int rows = std::min(kCompareRows, h - y);
    if (da->GetRasterBand(1)->RasterIO(GF_Read, 0, y, w, rows, ra.data(), w, rows, GDT_Byte, 0, 0,
                                       nullptr) != CE_None ||
        db->GetRasterBand(1)->RasterIO(GF_Read, 0, y, w, rows, rb.data(), w, rows, GDT_Byte, 0, 0,
                                       nullptr) != CE_None) {
      return absl::DataLossError(absl::StrCat("cannot read rows ", y, ".. of the outputs"));
    }
    const size_t n = static_cast<size_t>(w) * rows;
    for (size_t i = 0; i < n; ++i) {
      differences += ra[i] != rb[i];
      *nonzero_a += ra[i] != 0;
    }
  }
  return differences;
}

int Main(int argc, char** argv) {
  bool help = false;
  absl::StatusOr<Options> parsed = ParseArgs(argc, argv, &help);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "bandmath_compare: %s\n\n%s", std::string(parsed.status().message()).c_str(),
                 kUsage);
    return 2;
  }
  const Options o = *parsed;

  absl::StatusOr<std::unique_ptr<TempDir>> tmp = TempDir::Create();
  if (!tmp.ok()) {
    std::fprintf(stderr, "bandmath_compare: %s\n", tmp.status().ToString().c_str());
    return 1;
  }
  const std::filesystem::path& work = (*tmp)->path();

  std::filesystem::path root;
  if (!o.data_dir.empty()) {
    root = o.data_dir;
  } else if (o.smoke) {
    root = work;
  } else {
    absl::StatusOr<std::filesystem::path> r = DefaultCacheRoot();
    if (!r.ok()) {
      std::fprintf(stderr, "bandmath_compare: %s\n", r.status().ToString().c_str());
      return 1;
    }
    root = *r;
  }
  const std::string data_dir =
      (root / absl::StrFormat("s2_like_%dpx_%ddates", o.size, o.dates)).string();
  const std::string small_dir = (work / "startup").string();
  const std::string expr = WaterMaskExpression(o.dates);
  const std::string otb = o.no_otb ? "" : FindOnPath("otbcli_BandMath");

  std::printf("bandmath_compare: %d x %d px, %d dates, %d workers, %d runs each", o.size, o.size,
              o.dates, o.workers, o.repeat);
  if (o.tile_size > 0) std::printf(", engine tile %d px", o.tile_size);
  std::printf("\nexpression: %s\n", expr.c_str());
  if (otb.empty()) {
    std::printf("otbcli_BandMath: %s, skipped\n", o.no_otb ? "--no-otb" : "not found on PATH");
  } else {
    std::printf("otbcli_BandMath: %s -ram %d, ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=%d\n", otb.c_str(),
                o.ram_mib, o.workers);
  }

  // Inputs: generated (or found complete) in a child, so oneTBB never starts here.
  absl::StatusOr<ChildOutcome> gen = RunInChild([&](ChildReport* report) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<std::string>> paths =
        examples::MakeS2Like(data_dir, o.size, o.dates, kSeed);
    if (!paths.ok()) return SetError(report, paths.status());
    if (!otb.empty()) {
      paths = examples::MakeS2Like(small_dir, kStartupSize, o.dates, kSeed);
      if (!paths.ok()) return SetError(report, paths.status());
    }
    report->ok = 1;
    report->wall_seconds = Seconds(start);
  });
  if (!gen.ok() || !gen->report.ok) {
    std::fprintf(stderr, "bandmath_compare: generating inputs in %s: %s\n", data_dir.c_str(),
                 gen.ok() ? gen->report.error : gen.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> inputs, small_inputs;
  for (int d = 1; d <= o.dates; ++d) {
    inputs.push_back((std::filesystem::path(data_dir) / absl::StrCat("date_", d, ".tif")).string());
    small_inputs.push_back((std::filesystem::path(small_dir) / absl::StrCat("date_", d, ".tif")).string());
  }
  const auto warm_start = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> warm = WarmUp(inputs);
  if (!warm.ok()) {
    std::fprintf(stderr, "bandmath_compare: %s\n", warm.status().ToString().c_str());
    return 1;
  }
  std::printf("inputs: %s/date_{1..%d}.tif (ready in %.2f s, %.0f MiB read once in %.2f s)\n",
              data_dir.c_str(), o.dates, gen->report.wall_seconds,
              static_cast<double>(*warm) / (1 << 20), Seconds(warm_start));

  // "otb-64px": OTB's fixed cost, the same command on 64 x 64 inputs.
  Variant otb_variant, otb_small, expr_variant, expr_all, plain;
  otb_variant.name = "otb";
  otb_small.name = "otb-64px";
  expr_variant.name = "expr";
  expr_all.name = "expr-all";
  plain.name = "plain";
  std::vector<Variant*> variants;
  if (!otb.empty()) {
    variants.push_back(&otb_small);
    variants.push_back(&otb_variant);
  }
  variants.push_back(&expr_variant);
  variants.push_back(&expr_all);
  variants.push_back(&plain);
  const int64_t pixels = static_cast<int64_t>(o.size) * o.size;

  for (int run = 1; run <= o.repeat; ++run) {
    for (Variant* v : variants) {
      const std::string output = (work / absl::StrCat(v->name, "_", run, ".tif")).string();
      absl::StatusOr<ChildOutcome> outcome;
      if (v == &otb_variant || v == &otb_small) {
        outcome = RunOtb(otb, v == &otb_small ? small_inputs : inputs, output, expr, o.ram_mib,
                         o.workers, (work / absl::StrCat(v->name, "_", run, ".log")).string());
      } else {
        outcome = RunInChild([&](ChildReport* report) {
          if (v == &plain) {
            RunPlainChild(inputs, output, o.workers, report);
          } else {
            RunExpressionChild(inputs, output, expr, o, v == &expr_variant, report);
          }
        });
      }
      if (!outcome.ok() || !outcome->report.ok) {
        std::fprintf(stderr, "bandmath_compare: %s run %d failed: %s\n", v->name.c_str(), run,
                     outcome.ok() ? outcome->report.error : outcome.status().ToString().c_str());
        return 1;
      }
      const ChildReport& r = outcome->report;
      const double px = v == &otb_small ? kStartupSize * kStartupSize : static_cast<double>(pixels);
      std::printf("  run %d %-9s %8.3f s  %8.1f Mpx/s  peak RSS %7.1f MiB\n", run, v->name.c_str(),
                  r.wall_seconds, px / r.wall_seconds / 1e6, outcome->max_rss_mib);
      v->walls.push_back(r.wall_seconds);
      v->max_rss_mib = std::max(v->max_rss_mib, outcome->max_rss_mib);
      v->peak_live_bytes = std::max(v->peak_live_bytes, r.peak_live_bytes);
      if (v->first_output.empty()) {
        v->first_output = output;
      } else {
        std::error_code ec;
        std::filesystem::remove(output, ec);  // keep the disk footprint to one output each
      }
    }
  }

  std::printf("\n%-9s %9s %9s %12s %14s\n", "variant", "best s", "median s", "Mpx/s (med)",
              "peak RSS MiB");
  for (const Variant* v : variants) {
    const double px = v == &otb_small ? kStartupSize * kStartupSize : static_cast<double>(pixels);
    std::printf("%-9s %9.3f %9.3f %12.1f %14.1f\n", v->name.c_str(), v->Best(), v->Median(),
                px / v->Median() / 1e6, v->max_rss_mib);
  }
  std::printf("expr peak live tile bytes: %lld (%.1f MiB)\n",
              static_cast<long long>(expr_variant.peak_live_bytes),
              static_cast<double>(expr_variant.peak_live_bytes) / (1 << 20));
  if (!otb.empty()) {
    std::printf("otb/expr median wall: %.2f x (otb minus otb-64px, its fixed cost: %.2f x)\n",
                otb_variant.Median() / expr_variant.Median(),
                (otb_variant.Median() - otb_small.Median()) / expr_variant.Median());
    std::printf("otb/expr-all median wall: %.2f x\n", otb_variant.Median() / expr_all.Median());
  }

  bool identical = true;
  for (const Variant* v : variants) {
    if (v == &expr_variant || v == &otb_small) continue;
    int64_t water = 0;
    absl::StatusOr<int64_t> differences = CountDifferences(expr_variant.first_output, v->first_output, &water);
    if (!differences.ok()) {
      std::fprintf(stderr, "bandmath_compare: comparing outputs: %s\n",
                   differences.status().ToString().c_str());
      return 1;
    }
    std::printf("outputs expr vs %-8s: %s (%lld pixels differ; expr has %lld water pixels)\n",
                v->name.c_str(), *differences == 0 ? "IDENTICAL" : "DIFFERENT",
                static_cast<long long>(*differences), static_cast<long long>(water));
    identical = identical && *differences == 0;
  }
  return identical ? 0 : 1;
}

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) { return eoscale::bench::Main(argc, argv); }
