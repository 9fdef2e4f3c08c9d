// Fault injection: the process is killed with SIGKILL while it writes. A child
// (eoscale_fault_child: open -> slow copy -> write, reporting progress) is
// killed at several points of its run; nothing in it can clean up. The
// contract: the output's name either does not exist, or still holds the
// previous complete file (it opens and has the previous pixels). Only a kill
// that lands after the final rename may leave the new file, and then it is
// complete. The input is never touched.
//
// What a SIGKILL can leave is the hidden temporary file the run was writing
// (".out.tif.eoscale-HASH-PID-N.tmp" beside the output): nothing can delete
// it from a killed process. The test checks it is never under the output's
// name; the next run writing the output removes it (fault_outputs_test).
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::ChildOptions;
using ::eoscale::testing::ChildResult;
using ::eoscale::testing::Exists;
using ::eoscale::testing::FileBytes;
using ::eoscale::testing::FingerprintOf;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::RunChild;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::StartsWith;

constexpr int kSize = 384, kTile = 32;  // 144 tiles; 3 tile tasks each (read, copy, write)

Profile MakeProfile() {
  Profile p;
  p.width = p.height = kSize;
  p.bands = 2;
  p.type = PixelType::kI16;
  return p;
}

// Runs the slow copy and kills it once `fraction` of its tile tasks are done
// (fraction > 1: never). Returns what happened.
ChildResult CopyAndKill(const std::string& in, const std::string& out, double fraction) {
  ChildOptions o;
  o.on_line = [fraction](const std::string& line) {
    long long done = 0, total = 0;
    if (std::sscanf(line.c_str(), "progress %lld %lld", &done, &total) != 2 || total == 0) return false;
    return static_cast<double>(done) >= fraction * static_cast<double>(total);
  };
  // 3 ms per tile: about a quarter of a second of writing, long enough to land
  // a kill anywhere in it.
  return RunChild({EOSCALE_FAULT_CHILD, in, out, "--tile", std::to_string(kTile), "--workers", "2",
                   "--sleep-us", "3000", "--progress"},
                  o);
}

// Names in `dir` other than the input and the output: only the hidden
// temporary files of killed runs may be there.
void ExpectOnlyTemporaryLeftovers(const TempDir& dir) {
  for (const std::string& name : dir.List()) {
    if (name == "in.tif" || name == "out.tif") continue;
    EXPECT_THAT(name, StartsWith(".out.tif.eoscale-")) << "unexpected file left by a killed run";
  }
}

const double kKillPoints[] = {0.0, 0.1, 0.5, 0.9, 0.95};

TEST(KillTest, KilledWhileWritingLeavesNothingUnderTheName) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  const Array input = RandomArray(MakeProfile(), 41);
  WriteTiff(input, in, kTile);
  const auto in_before = FingerprintOf(in);
  int killed = 0;
  for (double f : kKillPoints) {
    SCOPED_TRACE(absl::StrCat("killed at ", f * 100, "% of the tile tasks"));
    const ChildResult r = CopyAndKill(in, out, f);
    if (r.exited) {  // finished before the kill landed (a loaded machine): then it is whole
      EXPECT_EQ(r.exit_code, 0) << r.output;
      EXPECT_TRUE(SameBytes(ReadTiff(out), input));
      std::filesystem::remove(out);
      continue;
    }
    ++killed;
    ASSERT_EQ(r.signal, SIGKILL);
    EXPECT_FALSE(Exists(out)) << "a killed run left a file under the output's name";
    EXPECT_EQ(FingerprintOf(in), in_before);
    ExpectOnlyTemporaryLeftovers(dir);
  }
  EXPECT_GE(killed, 3) << "too few kills landed mid-run to test anything";
}

TEST(KillTest, KilledWhileOverwritingKeepsThePreviousCompleteFile) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  const Array input = RandomArray(MakeProfile(), 42);
  const Array previous = RandomArray(MakeProfile(), 43);
  WriteTiff(input, in, kTile);
  WriteTiff(previous, out, kTile);
  const std::string previous_bytes = FileBytes(out);
  const auto in_before = FingerprintOf(in);
  int killed = 0;
  for (double f : kKillPoints) {
    SCOPED_TRACE(absl::StrCat("killed at ", f * 100, "% of the tile tasks"));
    const ChildResult r = CopyAndKill(in, out, f);
    if (r.exited) {
      EXPECT_EQ(r.exit_code, 0) << r.output;
      EXPECT_TRUE(SameBytes(ReadTiff(out), input));
      WriteTiff(previous, out, kTile);
      continue;
    }
    ++killed;
    ASSERT_EQ(r.signal, SIGKILL);
    ASSERT_TRUE(Exists(out));
    EXPECT_EQ(FileBytes(out), previous_bytes) << "the previous file was changed by a killed run";
    EXPECT_TRUE(SameBytes(ReadTiff(out), previous));  // and it still opens as a raster
    EXPECT_EQ(FingerprintOf(in), in_before);
    ExpectOnlyTemporaryLeftovers(dir);
  }
  EXPECT_GE(killed, 3) << "too few kills landed mid-run to test anything";
  // Unkilled, the same child replaces it with the complete new file.
  const ChildResult done = CopyAndKill(in, out, 2.0);
  ASSERT_TRUE(done.exited && done.exit_code == 0) << done.output;
  EXPECT_TRUE(SameBytes(ReadTiff(out), input));
}

// A kill right after the last tile task: the run is finishing the file or
// renaming it. Either the previous file or the new complete one is under the
// name, never a mix.
TEST(KillTest, KilledWhileFinishingLeavesTheOldOrTheNewFileWhole) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  const Array input = RandomArray(MakeProfile(), 44);
  const Array previous = RandomArray(MakeProfile(), 45);
  WriteTiff(input, in, kTile);
  for (int i = 0; i < 3; ++i) {
    WriteTiff(previous, out, kTile);
    const ChildResult r = CopyAndKill(in, out, 1.0);
    ASSERT_TRUE(Exists(out));
    const Array now = ReadTiff(out);
    EXPECT_TRUE(SameBytes(now, previous) || SameBytes(now, input))
        << "after a kill " << (r.exited ? "that came too late" : "while finishing")
        << ", the output is neither the previous nor the new file";
    ExpectOnlyTemporaryLeftovers(dir);
  }
}

}  // namespace
}  // namespace eoscale
