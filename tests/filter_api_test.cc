// The filter-facing API of graph/filter.h: inputs addressed in tile
// coordinates (MapTile::In / Out, ConstTileView), checked indexing of a
// tile's inputs, outputs and profiles, and per-worker scratch
// (MapTile::GetScratch, graph/scratch.h).
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/filter.h"
#include "eoscale/graph/scratch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::testing::HasSubstr;

Profile F32(int width, int height, int bands = 1) {
  Profile p;
  p.width = width;
  p.height = height;
  p.bands = bands;
  p.type = PixelType::kF32;
  return p;
}

// The mean of the (2r+1)^2 window around each pixel, over the pixels inside
// the image, written in tile coordinates: it never mentions the margin, so
// any margin >= r gives the same pixels.
MapFilter BoxMeanInTileCoordinates(int radius, int margin, std::atomic<int>* tiles = nullptr) {
  MapFilter f;
  f.name = "box mean";
  f.margin = margin;
  f.fn = [radius, tiles](const MapTile& t) {
    if (tiles != nullptr) tiles->fetch_add(1);
    const auto in = t.In<float>(0);
    const auto out = t.Out<float>(0);
    for (int b = 0; b < out.bands(); ++b) {
      for (int y = 0; y < out.rows(); ++y) {
        float* o = out.Row(b, y);
        for (int x = 0; x < out.cols(); ++x) {
          float sum = 0;
          int n = 0;
          for (int dy = -radius; dy <= radius; ++dy) {
            for (int dx = -radius; dx <= radius; ++dx) {
              if (!in.Contains(y + dy, x + dx)) continue;  // outside the image (the margin >= radius)
              sum += in.Row(b, y + dy)[x + dx];
              ++n;
            }
          }
          o[x] = sum / static_cast<float>(n);
        }
      }
    }
    return absl::OkStatus();
  };
  return f;
}

// The same, written against the raw views (the API before In/Out).
MapFilter BoxMeanRaw(int radius, int margin) {
  MapFilter f;
  f.name = "box mean (raw)";
  f.margin = margin;
  f.fn = [radius](const MapTile& t) {
    const auto in = t.inputs[0].As<float>();
    const auto out = t.outputs[0].As<float>();
    for (int b = 0; b < out.bands(); ++b) {
      for (int y = 0; y < out.rows(); ++y) {
        for (int x = 0; x < out.cols(); ++x) {
          float sum = 0;
          int n = 0;
          for (int dy = -radius; dy <= radius; ++dy) {
            for (int dx = -radius; dx <= radius; ++dx) {
              const int yy = y + t.StableY() + dy, xx = x + t.StableX() + dx;
              if (yy < 0 || xx < 0 || yy >= in.rows() || xx >= in.cols()) continue;
              sum += in(b, yy, xx);
              ++n;
            }
          }
          out(b, y, x) = sum / static_cast<float>(n);
        }
      }
    }
    return absl::OkStatus();
  };
  return f;
}

Array BoxMeanReference(const Array& a, int radius) {
  const Profile& p = a.profile();
  Array out(p);
  const auto in = a.view().As<float>();
  const auto o = out.mutable_view().As<float>();
  for (int b = 0; b < p.bands; ++b) {
    for (int y = 0; y < p.height; ++y) {
      for (int x = 0; x < p.width; ++x) {
        float sum = 0;
        int n = 0;
        for (int dy = -radius; dy <= radius; ++dy) {
          for (int dx = -radius; dx <= radius; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || xx < 0 || yy >= p.height || xx >= p.width) continue;
            sum += in(b, yy, xx);
            ++n;
          }
        }
        o(b, y, x) = sum / static_cast<float>(n);
      }
    }
  }
  return out;
}

absl::StatusOr<Array> RunMap(const Array& input, MapFilter filter, TilingOptions tiling, int workers = 2) {
  ContextOptions options;
  options.workers = workers;
  options.tiling = tiling;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(options);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<Image> in = (*ctx)->Wrap(input.profile(), input.view().data());
  if (!in.ok()) return in.status();
  absl::StatusOr<std::vector<Image>> out = (*ctx)->Map({*in}, std::move(filter));
  if (!out.ok()) return out.status();
  return (*ctx)->ReadAll((*out)[0]);
}

TilingOptions Tiles(int size, TileMode mode = TileMode::kTiles) {
  TilingOptions t;
  t.mode = mode;
  t.tile_size = size;
  return t;
}

// --- Tile coordinates ----------------------------------------------------

TEST(TileCoordinates, FilterEqualsWholeImageReferenceForEveryMarginAndTiling) {
  const Array input = testing::RandomArray(F32(61, 47, 2), 7);
  for (int margin : {0, 1, 3}) {
    const Array want = BoxMeanReference(input, margin);
    for (const TilingOptions& tiling : {Tiles(1), Tiles(5), Tiles(16), Tiles(64), Tiles(7, TileMode::kStrips)}) {
      SCOPED_TRACE(::testing::Message() << "margin " << margin << ", tile size " << tiling.tile_size
                                      << (tiling.mode == TileMode::kStrips ? " (strips)" : ""));
      std::atomic<int> tiles{0};
      absl::StatusOr<Array> got = RunMap(input, BoxMeanInTileCoordinates(margin, margin, &tiles), tiling);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(testing::SameBytes(*got, want));
      const int size = tiling.tile_size;
      EXPECT_EQ(tiles.load(), tiling.mode == TileMode::kStrips ? (47 + size - 1) / size
                                                               : ((61 + size - 1) / size) * ((47 + size - 1) / size));
    }
  }
}

TEST(TileCoordinates, RaisingTheMarginNeverShiftsReads) {
  const Array input = testing::RandomArray(F32(50, 40), 11);
  const Array want = BoxMeanReference(input, 1);
  for (int margin : {1, 2, 3, 8}) {
    SCOPED_TRACE(::testing::Message() << "margin " << margin);
    absl::StatusOr<Array> got = RunMap(input, BoxMeanInTileCoordinates(1, margin), Tiles(9));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(testing::SameBytes(*got, want));
  }
}

TEST(TileCoordinates, RawViewsWithStableOffsetsStillWork) {
  const Array input = testing::RandomArray(F32(45, 38), 5);
  absl::StatusOr<Array> raw = RunMap(input, BoxMeanRaw(2, 2), Tiles(8));
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_TRUE(testing::SameBytes(*raw, BoxMeanReference(input, 2)));
}

TEST(TileCoordinates, ViewHoldsTheMarginClampedAtTheImageBorder) {
  const Array input = testing::RandomArray(F32(30, 20), 3);
  std::mutex mu;
  std::vector<std::string> errors;
  MapFilter f;
  f.name = "margins";
  f.margin = 3;
  f.fn = [&](const MapTile& t) {
    const auto in = t.In<float>(0);
    const auto raw = t.inputs[0].As<float>();
    const bool ok = in.top() == t.tile.top && in.bottom() == t.tile.bottom && in.left() == t.tile.left &&
                    in.right() == t.tile.right && in.rows() == t.tile.window.height &&
                    in.cols() == t.tile.window.width && in.Row(0, 0) == raw.Row(0, t.StableY()) + t.StableX() &&
                    in.Row(0, -in.top()) - in.left() == raw.Row(0, 0) && in.Contains(-in.top(), -in.left()) &&
                    !in.Contains(-in.top() - 1, 0) && !in.Contains(0, in.cols() + in.right());
    if (!ok) {
      std::lock_guard<std::mutex> l(mu);
      errors.push_back(DescribeWindow(t.tile.window));
    }
    t.Out<float>(0).Fill(0);
    return absl::OkStatus();
  };
  absl::StatusOr<Array> got = RunMap(input, f, Tiles(8));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(errors, ::testing::IsEmpty());
}

TEST(TileCoordinates, AsTileChecksTypeAndCoverage) {
  std::vector<float> pixels(10 * 6, 0.0f);
  pixels[2 * 10 + 3] = 42.0f;  // image (x=13, y=22)
  const ConstView v = ConstView::Contiguous(pixels.data(), PixelType::kF32, 1, {10, 20, 10, 6});
  const ConstTileView<float> t = v.AsTile<float>({12, 21, 4, 3});
  EXPECT_EQ(t.top(), 1);
  EXPECT_EQ(t.left(), 2);
  EXPECT_EQ(t.bottom(), 2);
  EXPECT_EQ(t.right(), 4);
  EXPECT_EQ(t(0, 1, 1), 42.0f);
  EXPECT_EQ(t.Row(0, 1)[1], 42.0f);
  EXPECT_THROW((void)v.AsTile<double>({12, 21, 4, 3}), std::invalid_argument);
  try {
    (void)v.AsTile<float>({12, 21, 4, 6});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("view covers x=10 y=20 w=10 h=6"));
  }
}

// --- Checked indexing ----------------------------------------------------

TEST(CheckedIndexing, TileSpanBehavesAsASpanAndChecksItsIndex) {
  std::vector<Profile> profiles = {F32(1, 1), F32(2, 2)};
  TileSpan<const Profile, internal::TileSpanOf::kInputProfiles> s = profiles;
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].width, 2);
  EXPECT_EQ(s.back().width, 2);
  int widths = 0;
  for (const Profile& p : s) widths += p.width;
  EXPECT_EQ(widths, 3);
  const absl::Span<const Profile> plain = s;
  EXPECT_EQ(plain.data(), profiles.data());
  try {
    (void)s[2];
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "input profile 2 requested but the filter has 2 input profiles");
  }
  TileSpan<const View, internal::TileSpanOf::kOutputs> none;
  EXPECT_TRUE(none.empty());
  try {
    (void)none.back();
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "output 0 requested but the filter has 0 outputs");
  }
}

// A filter of one input and one output that reads one index too far.
MapFilter ReadsPast(const std::string& what) {
  MapFilter f;
  f.name = "reads too far";
  f.fn = [what](const MapTile& t) {
    t.Out<float>(0).Fill(0);
    if (what == "inputs") (void)t.inputs[1];
    if (what == "outputs") (void)t.outputs[1];
    if (what == "In") (void)t.In<float>(1);
    if (what == "Out") (void)t.Out<float>(2);
    if (what == "input_profiles") (void)t.input_profiles[1];
    if (what == "output_profiles") (void)t.output_profiles.at(1);
    return absl::OkStatus();
  };
  return f;
}

TEST(CheckedIndexing, PastTheCountIsAnErrorNamingTheFilter) {
  const Array input = testing::RandomArray(F32(20, 20), 1);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"inputs", "input 1 requested but the filter has 1 input"},
      {"outputs", "output 1 requested but the filter has 1 output"},
      {"In", "input 1 requested but the filter has 1 input"},
      {"Out", "output 2 requested but the filter has 1 output"},
      {"input_profiles", "input profile 1 requested but the filter has 1 input profile"},
      {"output_profiles", "output profile 1 requested but the filter has 1 output profile"},
  };
  for (const auto& [what, message] : cases) {
    SCOPED_TRACE(what);
    ContextOptions options;
    options.workers = 2;
    options.tiling.tile_size = 8;
    auto ctx = *Context::Create(options);
    const Image in = *ctx->Wrap(input.profile(), input.view().data());
    absl::StatusOr<std::vector<Image>> out = ctx->Map({in}, ReadsPast(what));
    ASSERT_TRUE(out.ok()) << out.status();
    testing::TempDir dir;
    ASSERT_TRUE(ctx->Write((*out)[0], dir.File("out.tif")).ok());
    const absl::Status st = ctx->Run();
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(dir.List(), ::testing::IsEmpty());  // nothing written
    EXPECT_THAT(std::string(st.message()), HasSubstr("filter 'reads too far'"));
    EXPECT_THAT(std::string(st.message()), HasSubstr("threw an exception: " + message));
    std::printf("%s\n", st.ToString().c_str());
  }
}

TEST(CheckedIndexing, ReduceInputsPastTheCountIsAnError) {
  ContextOptions options;
  options.workers = 2;
  auto ctx = *Context::Create(options);
  const Image in = *ctx->FromArray(testing::RandomArray(F32(20, 20), 1));
  ReduceFilter<double> f;
  f.name = "sums too far";
  f.map = [](const ReduceTile& t) -> absl::StatusOr<double> { return t.In<float>(1)(0, 0, 0); };
  f.combine = [](double a, double b) { return a + b; };
  absl::StatusOr<Reduction<double>> r = ctx->Reduce<double>({in}, f);
  ASSERT_TRUE(r.ok()) << r.status();
  const absl::StatusOr<double> v = r->Get();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("'sums too far'"));
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("input 1 requested but the filter has 1 input"));
  std::printf("%s\n", v.status().ToString().c_str());
}

// --- Per-worker scratch --------------------------------------------------

struct CountedScratch {
  static std::atomic<int> constructed;
  static std::atomic<int> destroyed;
  CountedScratch() { constructed.fetch_add(1); }
  ~CountedScratch() { destroyed.fetch_add(1); }
  std::vector<float> row;
};
std::atomic<int> CountedScratch::constructed{0};
std::atomic<int> CountedScratch::destroyed{0};

TEST(Scratch, CreatedOncePerWorkerThreadNeverPerTile) {
  const Array input = testing::RandomArray(F32(256, 256), 9);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> tiles{0};
  MapFilter f;
  f.name = "copy through scratch";
  f.fn = [&](const MapTile& t) {
    CountedScratch& s = t.GetScratch<CountedScratch>();
    const auto in = t.In<float>(0);
    const auto out = t.Out<float>(0);
    s.row.resize(out.cols());
    for (int y = 0; y < out.rows(); ++y) {
      std::copy(in.Row(0, y), in.Row(0, y) + out.cols(), s.row.begin());
      std::copy(s.row.begin(), s.row.end(), out.Row(0, y));
    }
    tiles.fetch_add(1);
    // Long enough for both workers to take tiles.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::lock_guard<std::mutex> l(mu);
    threads.insert(std::this_thread::get_id());
    return absl::OkStatus();
  };
  const int workers = 2;
  const int before = CountedScratch::constructed.load();
  absl::StatusOr<Array> got = RunMap(input, f, Tiles(8), workers);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(testing::SameBytes(*got, input));
  const int constructions = CountedScratch::constructed.load() - before;
  EXPECT_EQ(tiles.load(), 32 * 32);
  EXPECT_GE(constructions, 1);
  EXPECT_LE(constructions, workers + 1);
  EXPECT_LE(constructions, static_cast<int>(threads.size()));
  std::printf("%d tiles on %zu threads, %d scratch constructions\n", tiles.load(), threads.size(), constructions);
}

TEST(Scratch, EngineProvidedScratchIsWhatGetScratchReturns) {
  Scratch scratch;
  MapTile t;
  t.scratch = &scratch;
  const int before = CountedScratch::constructed.load();
  CountedScratch& a = t.GetScratch<CountedScratch>();
  a.row.assign(3, 1.0f);
  CountedScratch& b = t.GetScratch<CountedScratch>();
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(b.row.size(), 3u);
  EXPECT_EQ(CountedScratch::constructed.load() - before, 1);
  EXPECT_TRUE(scratch.type() == typeid(CountedScratch));
  try {
    (void)t.GetScratch<std::vector<double>>();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("holds a eoscale::(anonymous namespace)::CountedScratch"));
    EXPECT_THAT(e.what(), HasSubstr("asked for a std::vector<double"));
    std::printf("%s\n", e.what());
  }
  // Another (thread, node) gets its own object.
  Scratch other;
  t.scratch = &other;
  EXPECT_NE(&t.GetScratch<CountedScratch>(), &a);
}

TEST(Scratch, WithoutAnEngineScratchEachThreadHasItsOwnObject) {
  MapTile t;
  std::vector<float>* here = &t.GetScratch<std::vector<float>>();
  EXPECT_EQ(here, &t.GetScratch<std::vector<float>>());
  std::vector<float>* there = nullptr;
  std::thread([&] { there = &t.GetScratch<std::vector<float>>(); }).join();
  EXPECT_NE(here, there);
}

TEST(Scratch, HoldsOneObjectUntilResetOrDestroyedAndMoves) {
  const int destroyed = CountedScratch::destroyed.load();
  {
    Scratch s;
    EXPECT_FALSE(s.has_value());
    EXPECT_TRUE(s.type() == typeid(void));
    s.Get<CountedScratch>().row.push_back(1.0f);
    Scratch moved = std::move(s);
    EXPECT_FALSE(s.has_value());  // NOLINT: checking the moved-from state
    EXPECT_EQ(moved.Get<CountedScratch>().row.size(), 1u);
    moved.Reset();
    EXPECT_EQ(CountedScratch::destroyed.load() - destroyed, 1);
    EXPECT_FALSE(moved.has_value());
    moved.Get<std::vector<int>>().push_back(1);  // any type after a Reset
    EXPECT_THROW(moved.Get<CountedScratch>(), std::logic_error);
    moved = Scratch();
    moved.Get<CountedScratch>();
  }
  EXPECT_EQ(CountedScratch::destroyed.load() - destroyed, 2);
}

}  // namespace
}  // namespace eoscale
