// The examples under mpirun: water_mask and pipeline (margin 100) with 1 to
// 4 ranks and 1 or 2 workers write, as .tif and as .vrt, the pixels one
// process writes, and print the same reductions.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mpi_run.h"
#include "s2_like.h"
#include "synthetic_dsm.h"
#include "test_util.h"

namespace eoscale::testing {
namespace {

class MpiExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char d[] = "/tmp/eoscale-mpi-examples-XXXXXX";
    dir_ = ::mkdtemp(d);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(MpiExamplesTest, WaterMaskIsTheSingleProcessOneForAnyRanksAndWorkers) {
  // 800^2 in 256^2 tiles: 4 tile rows.
  absl::StatusOr<std::vector<std::string>> inputs = examples::MakeS2Like(dir_ + "/in", 800, 4, 42);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  std::vector<std::string> args = {"--workers", "2", dir_ + "/ref.tif"};
  args.insert(args.end(), inputs->begin(), inputs->end());
  args.insert(args.begin(), EOSCALE_WATER_MASK_BIN);
  const RunResult ref = RunProgram(args);
  ASSERT_EQ(ref.status, 0) << ref.err;
  const std::string water = LineStarting(ref.out, "water pixels");
  ASSERT_FALSE(water.empty()) << ref.out;
  const Array want = ReadTiff(dir_ + "/ref.tif");
  for (int ranks = 1; ranks <= 4; ++ranks) {
    for (int workers = 1; workers <= 2; ++workers) {
      for (const char* ext : {".tif", ".vrt"}) {
        SCOPED_TRACE(::testing::Message() << ranks << " ranks x " << workers << " workers, " << ext);
        const std::string out = dir_ + "/wm" + std::to_string(ranks) + "x" + std::to_string(workers) + ext;
        std::vector<std::string> a = {"--workers", std::to_string(workers), out};
        a.insert(a.end(), inputs->begin(), inputs->end());
        const RunResult r = RunMpi(ranks, EOSCALE_WATER_MASK_BIN, a);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(LineStarting(r.out, "water pixels"), water);
        EXPECT_TRUE(SameBytes(ReadTiff(out), want));
      }
    }
  }
}

TEST_F(MpiExamplesTest, PipelineWithItsMargin100IsTheSingleProcessOneForAnyRanksAndWorkers) {
  // 512 x 1600 in 256^2 tiles: 7 tile rows, the fill's margin of 100 (and
  // the mean's 1) reaching into the neighbouring rows.
  const std::string dsm = dir_ + "/dsm.tif";
  ASSERT_TRUE(examples::MakeSyntheticDsm(dsm, 512, 1600, 3).ok());
  const RunResult ref = RunProgram({EOSCALE_PIPELINE_BIN, "--workers", "2", "--tile-size", "256", dsm, dir_ + "/ref"});
  ASSERT_EQ(ref.status, 0) << ref.err;
  const std::string minmax = ref.out.substr(ref.out.rfind('\n', ref.out.size() - 2) + 1);
  const std::vector<std::string> names = {"nodata_mask", "filled_dsm", "smooth_dsm"};
  std::vector<Array> want;
  for (const std::string& n : names) want.push_back(ReadTiff(dir_ + "/ref/" + n + ".tif"));
  for (int ranks = 1; ranks <= 4; ++ranks) {
    for (int workers = 1; workers <= 2; ++workers) {
      for (const char* ext : {".tif", ".vrt"}) {
        SCOPED_TRACE(::testing::Message() << ranks << " ranks x " << workers << " workers, " << ext);
        const std::string out = dir_ + "/p" + std::to_string(ranks) + "x" + std::to_string(workers) + ext;
        std::vector<std::string> a = {"--workers", std::to_string(workers), "--tile-size", "256"};
        if (std::string(ext) == ".vrt") a.push_back("--vrt");
        a.push_back(dsm);
        a.push_back(out);
        const RunResult r = RunMpi(ranks, EOSCALE_PIPELINE_BIN, a);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1), minmax);
        EXPECT_EQ(r.out.find("halo recomputed") != std::string::npos, ranks > 1) << r.out;
        for (size_t i = 0; i < names.size(); ++i) {
          EXPECT_TRUE(SameBytes(ReadTiff(out + "/" + names[i] + ext), want[i])) << names[i];
        }
      }
    }
  }
}

// The lines of `text` starting with `prefix`.
std::vector<std::string> LinesStarting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, prefix.size(), prefix) == 0) lines.push_back(line);
  }
  return lines;
}

TEST_F(MpiExamplesTest, EveryRankHoldsThePipelineWithinASmallBudgetAndATooSmallOneIsRefusedOnEveryRank) {
  const std::string dsm = dir_ + "/dsm.tif";
  ASSERT_TRUE(examples::MakeSyntheticDsm(dsm, 512, 1600, 3).ok());
  // 1 MiB is below one tile's working set: every rank refuses the run with
  // the same message, which states the least budget; nothing is written.
  const std::string refused = dir_ + "/refused";
  std::filesystem::create_directory(refused);
  const RunResult small =
      RunMpi(2, EOSCALE_MPI_BUDGET_CHILD, {dsm, refused, "1", "--workers", "2", "--tile-size", "256"}, 90);
  EXPECT_FALSE(small.timed_out);
  ASSERT_NE(small.status, 0);
  const std::vector<std::string> errors = LinesStarting(small.err, "mpi_budget_child: ");
  ASSERT_EQ(errors.size(), 2u) << small.err;
  EXPECT_EQ(errors[0], errors[1]);
  EXPECT_NE(errors[0].find("memory budget of 1048576 bytes is too small"), std::string::npos) << errors[0];
  EXPECT_TRUE(FilesIn(refused).empty()) << ::testing::PrintToString(FilesIn(refused));
  const size_t at = errors[0].find("at least ");
  ASSERT_NE(at, std::string::npos) << errors[0];
  const size_t open = errors[0].find('(', at);
  ASSERT_NE(open, std::string::npos) << errors[0];
  const int64_t least = std::stoll(errors[0].substr(open + 1));
  ASSERT_GT(least, 1 << 20);
  // A budget a little above that least one: each rank's live tile bytes
  // stay within its budget, and rank 0 gathers the same figures.
  const int budget_mib = static_cast<int>((least + (1 << 20) - 1) >> 20) + 2;
  // In place (uncompressed), then compressed: tiles sent to rank 0, whose
  // copies in the channel (2 per sending rank, 1 received at a time) come
  // out of each rank's tile budget.
  int64_t budget_in_place[2] = {-1, -1};
  for (const bool compressed : {false, true}) {
    const std::string out = dir_ + (compressed ? "/out_deflate" : "/out");
    std::filesystem::create_directory(out);
    std::vector<std::string> args = {dsm, out, std::to_string(budget_mib), "--workers", "2", "--tile-size", "256"};
    if (compressed) args.insert(args.end(), {"--co", "COMPRESS=DEFLATE"});
    const RunResult r = RunMpi(2, EOSCALE_MPI_BUDGET_CHILD, args, 120);
    ASSERT_EQ(r.status, 0) << r.err;
    for (int k = 0; k < 2; ++k) {
      SCOPED_TRACE(::testing::Message() << "rank " << k << ", budget " << budget_mib << " MiB"
                                        << (compressed ? ", compressed" : ""));
      const std::vector<std::string> own = LinesStarting(r.out, "own " + std::to_string(k) + " ");
      ASSERT_EQ(own.size(), 1u) << r.out;
      std::istringstream line(own[0]);
      std::string w;
      int64_t id = -1, peak = -1, budget = -1;
      line >> w >> id >> w >> peak >> w >> budget;
      EXPECT_GT(peak, 0);
      EXPECT_GT(budget, 0);
      EXPECT_LE(budget, int64_t{budget_mib} << 20);
      EXPECT_LE(peak, budget);
      if (!compressed) {
        budget_in_place[k] = budget;
      } else {
        // The largest gathered tile: 256^2 float32 (the filled and smoothed DSMs).
        EXPECT_LE(budget, budget_in_place[k] - 2 * 256 * 256 * 4);
      }
      const std::vector<std::string> gathered = LinesStarting(r.out, "per_rank " + std::to_string(k) + " ");
      ASSERT_EQ(gathered.size(), 1u) << r.out;
      EXPECT_EQ(gathered[0].substr(gathered[0].find(" peak ")), own[0].substr(own[0].find(" peak ")));
    }
  }
}

}  // namespace
}  // namespace eoscale::testing
