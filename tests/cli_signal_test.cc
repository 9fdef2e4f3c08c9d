// Stop signals: `eoscale` stopped mid-run (and mid-COG translation) exits
// 128 + N, leaves no temporary file, and previous outputs keep their bytes.
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli_program.h"
#include "eoscale/core/array.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

class CliSignalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    in_ = new TempDir();
    Profile p;
    p.width = 2000;
    p.height = 2000;
    p.type = PixelType::kF32;
    testing::WriteTiff(testing::RandomArray(p, 5), in_->File("in.tif"));
  }
  static void TearDownTestSuite() {
    delete in_;
    in_ = nullptr;
  }
  static TempDir* in_;
};
TempDir* CliSignalTest::in_ = nullptr;

// Runs `args`, signals `sig` once `ready(out_dir, program)`, and checks the
// exit status, the message, and that out_dir holds only out.tif with its
// previous bytes.
void StopAndCheck(std::vector<std::string> args, int sig, const char* name,
                  const std::function<bool(const TempDir&, Cli&)>& ready) {
  TempDir out;
  const std::string previous = "a previous output, not a raster\n";
  WriteFile(out.File("out.tif"), previous);
  args.push_back("-o");
  args.push_back(out.File("out.tif"));
  args.push_back("--overwrite");
  Cli p(args);
  ASSERT_TRUE(WaitFor(p, [&] { return ready(out, p); })) << "the run ended first: " << p.Stderr();
  ASSERT_EQ(::kill(p.pid(), sig), 0);
  EXPECT_EQ(p.Wait(), 128 + sig) << p.Stderr();
  EXPECT_FALSE(p.KilledBySignal()) << "the handler did not run";
  EXPECT_THAT(p.Stderr(),
              HasSubstr(absl::StrCat("eoscale calc: stopped by ", name, ": no output written, previous files kept")));
  EXPECT_EQ(out.List(), std::vector<std::string>{"out.tif"}) << "a temporary was left";
  EXPECT_EQ(Slurp(out.File("out.tif")), previous);
}

bool HasTemporary(const TempDir& d) { return d.List().size() > 1; }

TEST_F(CliSignalTest, StoppedMidRunLeavesNoTemporaryAndKeepsThePreviousOutput) {
  // 8 x 8 tiles on one worker: seconds, so the signal lands mid-run.
  const std::vector<std::string> args = {"calc",      "-i", in_->File("in.tif"), "--calc", "im1b1 * 2",
                                         "--workers", "1",  "--tile-size",       "8",      "--quiet"};
  StopAndCheck(args, SIGINT, "SIGINT", [](const TempDir& d, Cli&) { return HasTemporary(d); });
  std::vector<std::string> cog = args;
  cog.push_back("--cog");
  StopAndCheck(cog, SIGTERM, "SIGTERM", [](const TempDir& d, Cli&) { return HasTemporary(d); });
}

TEST_F(CliSignalTest, StoppedDuringTheCogTranslationLeavesNoTemporary) {
  // The engine's run is quick; the COG driver then compresses 16 MB of
  // random floats with overviews: the bar's "cog" phase is when it lands.
  const std::vector<std::string> args = {"calc",   "-i",         in_->File("in.tif"), "--calc", "im1b1 * 2",
                                         "--cog",  "--progress", "--workers",         "1",      "--co",
                                         "LEVEL=9"};
  StopAndCheck(args, SIGHUP, "SIGHUP",
               [](const TempDir&, Cli& p) { return p.Stderr().find("cog out.tif") != std::string::npos; });
}

}  // namespace
}  // namespace eoscale::cli_test
