// Fault injection: the disk fills up while the output is written. A child
// process (eoscale_fault_child: open -> copy -> write) runs under
// RLIMIT_FSIZE with SIGXFSZ ignored, so a write past the limit fails with
// EFBIG exactly as on a full disk. Limits are chosen to hit every stage:
// creating the file, writing its tiles, and finishing it (the last blocks and
// the TIFF directory written at close). The contract: the run fails with an
// error naming the output path, nothing is left under that name (a previous
// file keeps its bytes), no temporary file is left, and the input is
// byte-for-byte unchanged.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
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
using ::eoscale::testing::FileBytes;
using ::eoscale::testing::FingerprintOf;
using ::eoscale::testing::ParseChildStatus;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::RunChild;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int kSize = 512;  // f32: 1 MiB of pixels

Profile MakeProfile() {
  Profile p;
  p.width = p.height = kSize;
  p.type = PixelType::kF32;
  return p;
}

ChildResult Copy(const std::string& in, const std::string& out, std::optional<rlim_t> limit, int tile) {
  ChildOptions o;
  o.file_size_limit = limit;
  return RunChild({EOSCALE_FAULT_CHILD, in, out, "--tile", std::to_string(tile), "--workers", "2"}, o);
}

struct Case {
  std::string name;
  int tile;
  bool previous_output;  // a file is already under the output's name
};

class DiskFullTest : public ::testing::TestWithParam<Case> {};

TEST_P(DiskFullTest, WriteFailsNamingTheOutputAndLeavesNoPartialFile) {
  const Case& c = GetParam();
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  const Array input = RandomArray(MakeProfile(), 31);
  WriteTiff(input, in, 64);

  // The size of a complete output, without a limit.
  int64_t complete = 0;
  {
    TempDir probe;
    const ChildResult full = Copy(in, probe.File("out.tif"), std::nullopt, c.tile);
    ASSERT_TRUE(full.exited && full.exit_code == 0) << full.output;
    ASSERT_TRUE(SameBytes(ReadTiff(probe.File("out.tif")), input));
    complete = static_cast<int64_t>(FileBytes(probe.File("out.tif")).size());
  }
  std::vector<rlim_t> limits = {1024, 64 * 1024, static_cast<rlim_t>(complete / 2),
                                static_cast<rlim_t>(complete * 9 / 10)};
  std::string previous;
  if (c.previous_output) {
    WriteTiff(RandomArray(MakeProfile(), 32), out, 64);
    previous = FileBytes(out);
  }
  const auto in_before = FingerprintOf(in);
  for (rlim_t limit : limits) {
    SCOPED_TRACE(absl::StrCat("RLIMIT_FSIZE ", limit, " bytes"));
    const ChildResult r = Copy(in, out, limit, c.tile);
    // It failed cleanly: exited (not killed by SIGXFSZ, not crashed) with an error.
    ASSERT_TRUE(r.exited) << "child ended by signal " << r.signal << "\n" << r.output;
    EXPECT_EQ(r.exit_code, 3) << r.output;
    const auto status = ParseChildStatus(r.output);
    ASSERT_TRUE(status.has_value()) << r.output;
    ::testing::Test::RecordProperty(absl::StrCat("error_limit_", limit),
                                    absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(status->code)),
                                                 ": ", status->message));
    EXPECT_THAT(status->message, HasSubstr(absl::StrCat("'", out, "'")));
    // Nothing under the name (or the previous file, whole), no temporary file.
    if (c.previous_output) {
      EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "out.tif"));
      EXPECT_EQ(FileBytes(out), previous);
    } else {
      EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif"));
    }
    EXPECT_EQ(FingerprintOf(in), in_before);
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, DiskFullTest,
                         ::testing::Values(Case{"BlockAlignedTiles", 64, false},
                                           Case{"TilesThroughRasterIO", 40, false},
                                           Case{"OverPreviousFile", 64, true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace eoscale
