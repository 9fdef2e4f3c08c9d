// The command-line programs (examples/water_mask, examples/pipeline) tried
// from outside, as a user would: stop signals mid-run and before the run,
// inputs of any numeric pixel type, a zero memory budget, a DSM with no
// valid pixel. docs/errors.md, "Command-line programs", lists the messages.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

#ifdef EOSCALE_HAVE_EXAMPLES
#include "../examples/pipeline/pipeline.h"
#include "s2_like.h"
#include "water_mask.h"
#endif

namespace eoscale {
namespace {

using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;
using ::testing::Not;

#ifdef EOSCALE_HAVE_EXAMPLES

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Entries of `dir` other than `known`: the run's temporary files, whatever
// their naming scheme (today hidden `.NAME.tmp-PID-N`).
std::vector<std::string> Others(const std::string& dir, const std::vector<std::string>& known) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (std::find(known.begin(), known.end(), name) == known.end()) out.push_back(name);
  }
  return out;
}

// Hidden temporary files ('.' then anything with "tmp") in `dir`.
std::vector<std::string> Temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& name : Others(dir, {})) {
    if (name[0] == '.' && name.find("tmp") != std::string::npos) out.push_back(name);
  }
  return out;
}

// A program started in the background, stdout and stderr to files.
class Program {
 public:
  // `env` entries ("NAME=value") are added to the child's environment.
  Program(const std::vector<std::string>& argv, const std::string& log_dir, std::vector<std::string> env = {})
      : out_path_(log_dir + "/stdout"), err_path_(log_dir + "/stderr") {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) env_storage_.push_back(*e);
    for (std::string& e : env) env_storage_.push_back(std::move(e));
    std::vector<char*> envp;
    for (const std::string& e : env_storage_) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      // The stop signals as a terminal would deliver them, whatever this test
      // inherited (a signal ignored at exec stays ignored by the programs, on
      // purpose: nohup).
      sigset_t set;
      sigemptyset(&set);
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        ::signal(sig, SIG_DFL);
        sigaddset(&set, sig);
      }
      ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(err);
  }
  ~Program() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  pid_t pid() const { return pid_; }
  bool Running() {
    if (waited_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      waited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }
  // The exit status (128 + N for a process killed by signal N, as a shell says).
  int Wait() {
    if (!waited_) {
      ::waitpid(pid_, &status_, 0);
      waited_ = true;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  bool KilledBySignal() const { return waited_ && WIFSIGNALED(status_); }
  std::string Stdout() const { return Slurp(out_path_); }
  std::string Stderr() const { return Slurp(err_path_); }

 private:
  std::string out_path_, err_path_;
  std::vector<std::string> env_storage_;
  pid_t pid_ = -1;
  bool waited_ = false;
  int status_ = 0;
};

int RunToEnd(const std::vector<std::string>& argv, const std::string& log_dir, std::string* out = nullptr,
             std::string* err = nullptr) {
  Program p(argv, log_dir);
  const int code = p.Wait();
  if (out != nullptr) *out = p.Stdout();
  if (err != nullptr) *err = p.Stderr();
  return code;
}

// Waits until `ready()` or the program ends; false if it ended first or
// after 60 s.
bool WaitFor(Program& p, const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    if (!p.Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

struct StopSignal {
  int sig;
  const char* name;
};
const StopSignal kStopSignals[] = {{SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"}};

// ---------------------------------------------------------------------------
// Stop signals

TEST(CliSignalTest, WaterMaskStoppedMidRunExits128PlusSignalAndLeavesNoTemporary) {
  TempDir in, logs;
  auto dates = examples::MakeS2Like(in.path(), 3000, 1);
  ASSERT_TRUE(dates.ok()) << dates.status();
  const std::string date = (*dates)[0];
  for (const StopSignal& s : kStopSignals) {
    SCOPED_TRACE(s.name);
    TempDir out;
    const std::string mask = out.File("mask.tif");
    const std::string previous = "a previous output, not a raster\n";
    WriteFile(mask, previous);
    // 4 dates of 3000 x 3000 in 8 x 8 tiles on one worker: about 2 s
    // (0.05 s in 64 x 64 tiles), so the signal lands mid-run.
    Program p({EOSCALE_WATER_MASK_BIN, "--workers", "1", "--tile-size", "8", mask, date, date, date, date},
              logs.path());
    ASSERT_TRUE(WaitFor(p, [&] { return !Others(out.path(), {"mask.tif"}).empty(); }))
        << "the run ended before writing: " << p.Stderr();
    ASSERT_EQ(::kill(p.pid(), s.sig), 0);
    EXPECT_EQ(p.Wait(), 128 + s.sig) << p.Stderr();
    EXPECT_FALSE(p.KilledBySignal()) << "the handler did not run: default action";
    EXPECT_THAT(p.Stderr(), HasSubstr(absl::StrCat("water_mask: stopped by ", s.name,
                                                   ": no output written, previous files kept")));
    EXPECT_THAT(Temporaries(out.path()), ::testing::IsEmpty());
    EXPECT_EQ(out.List(), std::vector<std::string>{"mask.tif"});
    EXPECT_EQ(Slurp(mask), previous) << "the previous output changed";
  }
}

TEST(CliSignalTest, PipelineStoppedMidRunExits128PlusSignalAndKeepsEveryPreviousOutput) {
  TempDir in, logs;
  const std::string dsm = in.File("dsm.tif");
  ASSERT_TRUE(examples::MakeSyntheticDsm(dsm, 2000, 1500).ok());
  for (const StopSignal& s : kStopSignals) {
    SCOPED_TRACE(s.name);
    TempDir out;
    const std::vector<std::string> names = {"filled_dsm.tif", "nodata_mask.tif", "smooth_dsm.tif"};
    for (const std::string& n : names) WriteFile(out.File(n), "previous " + n);
    // 16 x 16 tiles with a margin of 100 on one worker: about 2 s.
    Program p({EOSCALE_PIPELINE_BIN, "--workers", "1", "--tile-size", "16", dsm, out.path()}, logs.path());
    ASSERT_TRUE(WaitFor(p, [&] { return !Others(out.path(), names).empty(); }))
        << "the run ended before writing: " << p.Stderr();
    ASSERT_EQ(::kill(p.pid(), s.sig), 0);
    EXPECT_EQ(p.Wait(), 128 + s.sig) << p.Stderr();
    EXPECT_THAT(p.Stderr(), HasSubstr(absl::StrCat("pipeline: stopped by ", s.name,
                                                   ": no output written, previous files kept")));
    EXPECT_THAT(Temporaries(out.path()), ::testing::IsEmpty());
    EXPECT_THAT(Others(out.path(), names), ::testing::IsEmpty());
    for (const std::string& n : names) EXPECT_EQ(Slurp(out.File(n)), "previous " + n) << n;
  }
}

TEST(CliSignalTest, WaterMaskStoppedBeforeTheRunExits128PlusSignalAndRemovesItsGeneratedInputs) {
  // With no input the program first generates 4 dates of 3500 x 3500 in
  // $TMPDIR; a signal then stops it before the run.
  TempDir tmp, out, logs;
  const std::string mask = out.File("mask.tif");
  Program p({EOSCALE_WATER_MASK_BIN, mask}, logs.path(), {"TMPDIR=" + tmp.path()});
  // The program says it is generating once its folder exists, after its
  // handlers are installed (a file in $TMPDIR may appear earlier: a signal
  // then would find the default action, as seen once under TSan).
  ASSERT_TRUE(WaitFor(p, [&] { return p.Stdout().find("generating") != std::string::npos; })) << p.Stderr();
  ASSERT_EQ(::kill(p.pid(), SIGTERM), 0);
  EXPECT_EQ(p.Wait(), 128 + SIGTERM) << p.Stderr();
  EXPECT_THAT(p.Stderr(), HasSubstr("water_mask: stopped by SIGTERM: no output written, previous files kept"));
  EXPECT_THAT(tmp.List(), ::testing::IsEmpty()) << "generated inputs left behind";
  EXPECT_THAT(out.List(), ::testing::IsEmpty());
}

TEST(CliSignalTest, ASignalIgnoredAtStartStaysIgnoredAsNohupMeansIt) {
  // `nohup water_mask ...`: SIGHUP is ignored when the program starts; a
  // hangup must not cancel the run.
  TempDir in, out, logs;
  auto dates = examples::MakeS2Like(in.path(), 3000, 1);
  ASSERT_TRUE(dates.ok()) << dates.status();
  const std::string date = (*dates)[0];
  const std::string mask = out.File("mask.tif");
  const std::string nohup = "/usr/bin/nohup";
  if (!std::filesystem::exists(nohup)) GTEST_SKIP() << "no " << nohup;
  // About 0.3 s (64 x 64 tiles: 0.05 s), so the hangup lands mid-run and the
  // run, not cancelled, still ends soon under the sanitizers.
  Program p({nohup, EOSCALE_WATER_MASK_BIN, "--workers", "1", "--tile-size", "32", mask, date, date, date, date},
            logs.path());
  ASSERT_TRUE(WaitFor(p, [&] { return !Others(out.path(), {}).empty(); })) << p.Stderr();
  ASSERT_EQ(::kill(p.pid(), SIGHUP), 0);
  EXPECT_EQ(p.Wait(), 0) << p.Stderr();
  EXPECT_EQ(Others(out.path(), {}), std::vector<std::string>{"mask.tif"});
}

// ---------------------------------------------------------------------------
// Input pixel types

// The same samples as `a`, stored as `type`.
Array Converted(const Array& a, PixelType type) {
  Profile p = a.profile();
  p.type = type;
  Array out(p);
  DispatchPixelType(a.profile().type, [&]<typename S>() {
    DispatchPixelType(type, [&]<typename D>() {
      auto s = a.Samples<S>();
      auto d = out.MutableSamples<D>();
      for (size_t i = 0; i < s.size(); ++i) d[i] = static_cast<D>(s[i]);
    });
  });
  return out;
}

TEST(CliInputTypeTest, WaterMaskGivesTheSameMaskForEveryNumericTypeOfTheSameValues) {
  TempDir dir, logs;
  auto dates = examples::MakeS2Like(dir.File("i16"), 300, 2);
  ASSERT_TRUE(dates.ok()) << dates.status();
  examples::WaterMaskOptions o;
  o.tiling.tile_size = 64;
  auto want = examples::RunWaterMask(*dates, dir.File("want.tif"), o);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_GT(want->water_pixels, 0);
  const Array want_mask = ReadTiff(dir.File("want.tif"));
  std::vector<Array> i16;
  for (const std::string& d : *dates) i16.push_back(ReadTiff(d));
  for (PixelType type : {PixelType::kU16, PixelType::kI32, PixelType::kU32, PixelType::kF32, PixelType::kF64}) {
    SCOPED_TRACE(PixelTypeName(type));
    std::vector<std::string> inputs;
    for (size_t d = 0; d < i16.size(); ++d) {
      inputs.push_back(dir.File(absl::StrCat(PixelTypeName(type), "_", d, ".tif")));
      WriteTiff(Converted(i16[d], type), inputs.back());
    }
    const std::string mask = dir.File(absl::StrCat("mask_", PixelTypeName(type), ".tif"));
    auto got = examples::RunWaterMask(inputs, mask, o);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->water_pixels, want->water_pixels);
    EXPECT_TRUE(SameBytes(ReadTiff(mask), want_mask));
  }
  // And the program itself, on uint16 dates.
  std::string err;
  const std::string u16_0 = dir.File(absl::StrCat(PixelTypeName(PixelType::kU16), "_0.tif"));
  const std::string u16_1 = dir.File(absl::StrCat(PixelTypeName(PixelType::kU16), "_1.tif"));
  EXPECT_EQ(RunToEnd({EOSCALE_WATER_MASK_BIN, dir.File("cli_u16.tif"), u16_0, u16_1}, logs.path(), nullptr, &err),
            0)
      << err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("cli_u16.tif")), want_mask));
}

TEST(CliInputTypeTest, WaterMaskOnAnImageWithoutBand4NamesTheFileAndTheBandsItReads) {
  TempDir dir, logs;
  Profile p;
  p.width = 40;
  p.height = 30;
  p.bands = 3;
  p.type = PixelType::kU16;
  const std::string rgb = dir.File("rgb.tif");
  WriteTiff(testing::RandomArray(p, 3), rgb);
  std::string err;
  EXPECT_EQ(RunToEnd({EOSCALE_WATER_MASK_BIN, dir.File("mask.tif"), rgb}, logs.path(), nullptr, &err), 1);
  EXPECT_THAT(err, HasSubstr(absl::StrCat("water_mask: INVALID_ARGUMENT: band 4 of '", rgb,
                                          "' does not exist (the file has 3 bands); the water mask reads band 2 "
                                          "(green) and band 4 (near infrared) of each date")));
}

// ---------------------------------------------------------------------------
// Memory budget

TEST(CliOptionTest, WaterMaskRefusesAZeroMemoryBudgetAsAUsageError) {
  TempDir dir, logs;
  auto dates = examples::MakeS2Like(dir.File("in"), 64, 1);
  ASSERT_TRUE(dates.ok()) << dates.status();
  std::string err;
  EXPECT_EQ(RunToEnd({EOSCALE_WATER_MASK_BIN, "--memory-budget-mib", "0", dir.File("mask.tif"), (*dates)[0]},
                     logs.path(), nullptr, &err),
            2);
  EXPECT_THAT(err, HasSubstr("water_mask: --memory-budget-mib must be between 1 and 2^40, got 0 "
                             "(omit it for the default budget)"));
  EXPECT_FALSE(std::filesystem::exists(dir.File("mask.tif")));
  // A positive budget runs.
  EXPECT_EQ(RunToEnd({EOSCALE_WATER_MASK_BIN, "--memory-budget-mib", "64", dir.File("mask.tif"), (*dates)[0]},
                     logs.path(), nullptr, &err),
            0)
      << err;
}

// ---------------------------------------------------------------------------
// A DSM with no valid pixel

TEST(CliPipelineTest, AllNodataOrAllNanDsmSaysNoValidPixelInsteadOfStatistics) {
  struct Case {
    const char* name;
    float value;
    std::optional<double> nodata;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Case& c : {Case{"all nodata", -32768.0f, -32768.0}, Case{"all NaN", nan, std::nullopt},
                        Case{"all NaN, NaN nodata", nan, std::nan("")}}) {
    SCOPED_TRACE(c.name);
    TempDir dir, logs;
    Profile p;
    p.width = 300;
    p.height = 200;
    p.type = PixelType::kF32;
    p.nodata = c.nodata;
    p.geotransform = {570000.0, 0.5, 0.0, 4831000.0, 0.0, -0.5};
    Array a(p);
    for (float& v : a.MutableSamples<float>()) v = c.value;
    const std::string dsm = dir.File("dsm.tif");
    WriteTiff(a, dsm);

    auto r = examples::RunPipeline(dsm, dir.path());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->valid_pixels, 0);

    std::string out, err;
    EXPECT_EQ(RunToEnd({EOSCALE_PIPELINE_BIN, dsm, dir.File("cli")}, logs.path(), &out, &err), 0) << err;
    EXPECT_THAT(out, HasSubstr(absl::StrCat("no valid pixel: every pixel of ", dsm,
                                            " is nodata or NaN, so it has no min or max")));
    EXPECT_THAT(out, Not(HasSubstr("inf")));
    EXPECT_THAT(out, Not(HasSubstr("-32768")));
  }
  // A DSM with valid pixels still prints its min and max.
  TempDir dir, logs;
  ASSERT_TRUE(examples::MakeSyntheticDsm(dir.File("dsm.tif"), 600, 400).ok());
  std::string out, err;
  EXPECT_EQ(RunToEnd({EOSCALE_PIPELINE_BIN, dir.File("dsm.tif"), dir.File("cli")}, logs.path(), &out, &err), 0)
      << err;
  EXPECT_THAT(out, Not(HasSubstr("no valid pixel")));
  auto r = examples::RunPipeline(dir.File("dsm.tif"), dir.File("cli"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->valid_pixels, 0);
  EXPECT_LE(r->valid_pixels, int64_t{600} * 400);
}

// ---------------------------------------------------------------------------
// Inputs are never written

TEST(CliNothingLostTest, WaterMaskRefusesAnOutputThatIsAnInputUnderAnySpelling) {
  TempDir dir, logs;
  auto dates = examples::MakeS2Like(dir.File("d"), 64, 4);
  ASSERT_TRUE(dates.ok()) << dates.status();
  const std::string before = Slurp((*dates)[0]);
  ASSERT_EQ(::symlink((*dates)[0].c_str(), dir.File("link.tif").c_str()), 0);
  for (const std::string& out : {(*dates)[0], dir.File("d/../d/") + std::filesystem::path((*dates)[0]).filename().string(),
                                 dir.File("link.tif")}) {
    SCOPED_TRACE(out);
    std::vector<std::string> argv = {EOSCALE_WATER_MASK_BIN, out};
    for (const std::string& d : *dates) argv.push_back(d);
    std::string err;
    EXPECT_EQ(RunToEnd(argv, logs.path(), nullptr, &err), 1);
    EXPECT_THAT(err, HasSubstr("refusing to write"));
    EXPECT_THAT(err, HasSubstr("a run never writes one of its inputs"));
    EXPECT_EQ(Slurp((*dates)[0]), before);
  }
}

TEST(CliNothingLostTest, PipelineRefusesADsmInOutdirUnderAnOutputsName) {
  TempDir dir, logs;
  const std::string dsm = dir.File("filled_dsm.tif");  // the name of one of pipeline's outputs
  ASSERT_TRUE(examples::MakeSyntheticDsm(dsm, 200, 150).ok());
  const std::string before = Slurp(dsm);
  std::string err;
  EXPECT_EQ(RunToEnd({EOSCALE_PIPELINE_BIN, dsm, dir.path()}, logs.path(), nullptr, &err), 1);
  EXPECT_THAT(err, HasSubstr("a run never writes one of its inputs"));
  EXPECT_EQ(Slurp(dsm), before);
  EXPECT_FALSE(std::filesystem::exists(dir.File("nodata_mask.tif")));  // all outputs or none
}

#else

TEST(CliSignalTest, NeedsTheExamples) { GTEST_SKIP() << "built without the examples (water_mask, pipeline)"; }

#endif  // EOSCALE_HAVE_EXAMPLES

}  // namespace
}  // namespace eoscale
