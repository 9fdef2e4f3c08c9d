// `eoscale pipeline`: EOScale's pipeline.py equal to the same graph built
// with the API, several chains and outputs in one graph, every step, and
// the grammar's usage errors.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli_program.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

std::vector<std::string> Split(const std::string& command) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : command) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ' ' && !quoted) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// `eoscale pipeline ...`, with {d} replaced by the test folder.
CliResult Pipeline(const TempDir& dir, std::string command) {
  for (size_t p = command.find("{d}"); p != std::string::npos; p = command.find("{d}")) {
    command.replace(p, 3, dir.path());
  }
  std::vector<std::string> args = {"pipeline"};
  for (std::string& a : Split(command)) args.push_back(a);
  return RunCli(args);
}

TEST(CliPipelineTest, EoscalePipelineEqualsTheSameGraphThroughTheApi) {
  TempDir dir;
  const std::string dsm = testing::DsmPath();
  auto r = Pipeline(dir, absl::StrCat("--tile-size 100 read ", dsm,
                                      " --as dsm ! nodata-mask --as mask ! write {d}/nodata_mask.tif"
                                      " ! fill-nodata dsm mask --max-distance 30 ! write {d}/filled.tif"
                                      " ! uniform --size 3 ! write {d}/smooth.tif ! min-max"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto ctx = *Context::Create({.workers = 2});
  auto in = *ctx->Open(dsm);
  auto mask = (*ctx->Map({in}, filters::NodataMask()))[0];
  auto filled = (*ctx->Map({in, mask}, filters::FillNodata({.max_search_distance = 30})))[0];
  auto smooth = (*ctx->Map({filled}, filters::Uniform(3)))[0];
  auto mm = *ctx->Reduce<filters::MinMaxResult>({smooth}, filters::MinMax());
  const Array want_mask = *ctx->ReadAll(mask);
  const Array want_filled = *ctx->ReadAll(filled);
  const Array want_smooth = *ctx->ReadAll(smooth);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("nodata_mask.tif")), want_mask));
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("filled.tif")), want_filled));
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("smooth.tif")), want_smooth));
  const filters::MinMaxResult v = *mm.Get();
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"min-max\", \"input\": \"step 6 (uniform)\""));
  char want[128];
  std::snprintf(want, sizeof want, "\"min\": %.17g", v.min);
  EXPECT_THAT(r.out, HasSubstr(want));
  std::snprintf(want, sizeof want, "\"max\": %.17g", v.max);
  EXPECT_THAT(r.out, HasSubstr(want));
}

TEST(CliPipelineTest, SeveralChainsInOneGraphEqualTheSameFormulaInCalc) {
  TempDir dir;
  Profile p;
  p.width = 211;
  p.height = 143;
  p.bands = 4;
  p.type = PixelType::kI16;
  WriteTiff(testing::RandomArray(p, 1), dir.File("d1.tif"), 64);
  WriteTiff(testing::RandomArray(p, 2), dir.File("d2.tif"), 64);
  auto r = Pipeline(dir,
                    "read {d}/d1.tif --bands 2,4 ! ndwi ! threshold --gt 0 --as w1 ! write {d}/w1.tif"
                    " ! read {d}/d2.tif ! ndwi --green 2 --nir 4 ! threshold --gt 0 --as w2"
                    " ! and w1 w2 ! write {d}/mask.tif ! stats");
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunCli({"calc", "-i", "A=" + dir.File("d1.tif"), "-i", "B=" + dir.File("d2.tif"), "--ot", "Byte", "--calc",
              "(A.b2 - A.b4) / (A.b2 + A.b4) > 0 && (B.b2 - B.b4) / (B.b2 + B.b4) > 0", "-o", dir.File("calc.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("mask.tif")), ReadTiff(dir.File("calc.tif"))));
  // Pipeline calc naming images.
  r = Pipeline(dir,
               "read {d}/d1.tif --as a ! read {d}/d2.tif --as b ! calc --ot Byte"
               " --calc \"(a.b2 - a.b4) / (a.b2 + a.b4) > 0 && (b.b2 - b.b4) / (b.b2 + b.b4) > 0\""
               " ! write {d}/pcalc.tif");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("pcalc.tif")), ReadTiff(dir.File("calc.tif"))));
}

TEST(CliPipelineTest, EveryStepRunsWithTheProfileItPromises) {
  TempDir dir;
  Profile p;
  p.width = 120;
  p.height = 90;
  p.bands = 3;
  p.type = PixelType::kU16;
  p.nodata = 0.0;
  WriteTiff(testing::RandomArray(p, 3), dir.File("in.tif"), 64);
  struct Case {
    std::string steps;
    int bands;
    PixelType type;
  };
  const std::vector<Case> cases = {
      {"nodata-mask", 3, PixelType::kU8},
      {"fill-nodata --max-distance 5 --smoothing-iterations 1", 3, PixelType::kU16},
      {"uniform --size 3", 3, PixelType::kU16},
      {"convolve --kernel \"1,2,1;2,4,2;1,2,1\" --ot Float32 --border nearest", 3, PixelType::kF32},
      {"kernel --radius 2 --op max --border reflect --ot UInt16", 3, PixelType::kU16},
      {"ndwi --green 1 --nir 2", 1, PixelType::kF32},
      {"ndvi --red 1 --nir 3", 1, PixelType::kF32},
      {"normalized-difference --a 3 --b 1 --epsilon 0.5", 1, PixelType::kF32},
      {"threshold --le 30000", 3, PixelType::kU8},
      {"threshold --ne 5 ! not", 3, PixelType::kU8},
      {"threshold --gt 100 --as t ! threshold --lt 60000 ! or t", 3, PixelType::kU8},
      {"calc --calc \"im1b1 + im1b3\" --ot Int32 --nodata -1", 1, PixelType::kI32},
      {"cast --ot Float64", 3, PixelType::kF64},
      {"nodata-mask --as m ! read {d}/in.tif --as i ! concatenate i m --ot Int32", 6, PixelType::kI32},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.steps);
    std::filesystem::remove(dir.File("out.tif"));
    auto r = Pipeline(dir, "read {d}/in.tif ! " + c.steps + " ! write {d}/out.tif");
    ASSERT_EQ(r.code, 0) << r.err;
    const Array out = ReadTiff(dir.File("out.tif"));
    EXPECT_EQ(out.profile().bands, c.bands);
    EXPECT_EQ(out.profile().type, c.type);
    EXPECT_EQ(out.profile().width, 120);
  }
  auto r = Pipeline(dir, "read {d}/in.tif ! histogram --bins 2 --range 0,65535 ! stats");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"histogram\""));
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"stats\""));
}

TEST(CliPipelineTest, GrammarErrorsAreUsageErrorsNamingTheStep) {
  TempDir dir;
  Profile p;
  p.width = 20;
  p.height = 10;
  WriteTiff(testing::RandomArray(p, 4), dir.File("in.tif"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no step"},
      {"read {d}/in.tif ! frobnicate ! write {d}/o.tif", "step 2: unknown step 'frobnicate'"},
      {"read {d}/in.tif ! uniform --sze 3 ! write {d}/o.tif",
       "step 'uniform': unknown option --sze (it takes --as, --size)"},
      {"read {d}/in.tif ! uniform ! write {d}/o.tif", "step 'uniform' needs --size N"},
      {"read {d}/in.tif ! uniform --size x ! write {d}/o.tif", "--size takes an integer, got 'x'"},
      {"read {d}/in.tif ! and a b ! write {d}/o.tif", "step 'and': no image is named 'a'"},
      {"read {d}/in.tif ! ! write {d}/o.tif", "step 2 is empty"},
      {"read {d}/in.tif !", "step 2 is empty"},
      {"read {d}/in.tif ! uniform --size 3", "no 'write' step"},
      {"uniform --size 3 ! write {d}/o.tif", "step 'uniform' has no input: start the pipeline with 'read FILE'"},
      {"read {d}/in.tif --as a ! read {d}/in.tif --as a ! write {d}/o.tif", "--as a: the name is already taken"},
      {"read {d}/in.tif ! write {d}/o.tif --as x", "step 'write' takes no --as"},
      {"read {d}/in.tif ! write {d}/o.tif ! write {d}/o.tif", "is written twice"},
      {"read {d}/missing.tif ! write {d}/o.tif", "missing.tif"},
      {"read {d}/in.tif --bands 2 ! write {d}/o.tif", "band 2"},
      {"read {d}/in.tif ! calc --calc \"x.b1 + 1\" ! write {d}/o.tif", "names input 'x', which is not one of"},
      {"read {d}/in.tif ! threshold --gt 1 --lt 2 ! write {d}/o.tif", "step 'threshold' takes one comparison"},
      {"read {d}/in.tif ! ndwi ! write {d}/o.tif",
       "band 2 outside [1, 1] (ndwi reads --green 2 and --nir 4 by default)"},
      {"--window 0,0,5,5 read {d}/in.tif ! stats", "--window/--bbox apply to writes only"},
      {"--frobnicate read {d}/in.tif ! write {d}/o.tif", "unknown option --frobnicate"},
      {"read {d}/in.tif ! write {d}/nofolder/o.tif", "folder '" + dir.File("nofolder") + "' does not exist"},
  };
  for (const auto& [command, message] : cases) {
    SCOPED_TRACE(command);
    auto r = Pipeline(dir, command);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("eoscale pipeline: "));
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(dir.List(), std::vector<std::string>{"in.tif"});
  }
  auto r = Pipeline(dir, "--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("fill-nodata"));
  EXPECT_THAT(r.out, HasSubstr("Examples:"));
}

}  // namespace
}  // namespace eoscale::cli_test
