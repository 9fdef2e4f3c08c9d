// Engine v2's promises, from outside: a huge image starts streaming at once
// with state that does not grow with it, two contexts run side by side with
// their own workers, any RasterSource/RasterSink plugs in, and a region run
// equals the same window of a whole-image run while reading only what it needs.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oneapi/tbb/global_control.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::testing::HasSubstr;

int64_t RssBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

// out = in + 1, any margin (reads only the stable window).
MapFilter AddOne(const std::string& name, int margin = 0) {
  MapFilter f;
  f.name = name;
  f.margin = margin;
  f.fn = [](const MapTile& t) {
    auto in = t.inputs[0].As<uint8_t>();
    auto out = t.outputs[0].As<uint8_t>();
    for (int y = 0; y < out.rows(); ++y) {
      const uint8_t* src = in.Row(0, y + t.StableY()) + t.StableX();
      uint8_t* dst = out.Row(0, y);
      for (int x = 0; x < out.cols(); ++x) dst[x] = static_cast<uint8_t>(src[x] + 1);
    }
    return absl::OkStatus();
  };
  return f;
}

// 3x3 mean (integer), clamped at the border: the margin-1 filter of the
// region tests.
MapFilter Mean3(const std::string& name) {
  MapFilter f;
  f.name = name;
  f.margin = 1;
  f.fn = [](const MapTile& t) {
    auto in = t.inputs[0].As<uint8_t>();
    auto out = t.outputs[0].As<uint8_t>();
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) {
        int sum = 0, n = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const int yy = y + t.StableY() + dy, xx = x + t.StableX() + dx;
            if (yy < 0 || xx < 0 || yy >= in.rows() || xx >= in.cols()) continue;
            sum += in(0, yy, xx);
            ++n;
          }
        }
        out(0, y, x) = static_cast<uint8_t>(sum / n);
      }
    }
    return absl::OkStatus();
  };
  return f;
}

TEST(StreamingTest, HugeImageStartsStreamingAtOnceAndStaysWithinTheBudget) {
  // 10^6 x 10^6 pixels: 15 million tiles of 256^2. The old engine planned
  // per-tile arrays for every node first (1.55 GB and 18.7 s before its
  // first tile).
  constexpr int64_t kBudget = 64 << 20;
  Profile p;
  p.width = p.height = 1000000;
  p.type = PixelType::kU8;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int64_t> first_ms{-1};
  std::atomic<int64_t> max_rss{0};
  const int64_t rss_before = RssBytes();
  ContextOptions opts{.workers = 2, .memory_budget_bytes = kBudget};
  opts.progress = [&](const Progress& pr) {
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    int64_t expected = -1;
    first_ms.compare_exchange_strong(expected, ms);
    if (pr.tiles_done % 256 == 0) max_rss = std::max<int64_t>(max_rss, RssBytes());
    EXPECT_EQ(pr.tiles_total, int64_t{3907} * 3907 * 5);
    // Stream for two seconds and 2000 tasks (a sanitizer build on a loaded
    // machine is slow), at most 30 s, then cancel.
    return ms < 30000 && (ms < 2000 || pr.tiles_done < 2000);
  };
  auto ctx2 = Context::Create(opts);
  ASSERT_TRUE(ctx2.ok());
  auto src2 = (*ctx2)->CreateConstant(p, 7);
  auto a2 = (*ctx2)->Map({*src2}, AddOne("a"));
  auto b2 = (*ctx2)->Map({(*a2)[0]}, AddOne("b"));
  auto c2 = (*ctx2)->Map({(*b2)[0]}, AddOne("c"));
  auto sum2 = (*ctx2)->Reduce<int64_t>({(*c2)[0]}, ReduceFilter<int64_t>{
      "count",
      [](const ReduceTile& t) -> absl::StatusOr<int64_t> {
        return t.inputs[0].As<uint8_t>()(0, 0, 0) == 10 ? t.tile.window.Pixels() : -1;
      },
      [](int64_t x, int64_t y) { return x + y; }});
  ASSERT_TRUE(sum2.ok());
  absl::StatusOr<int64_t> v = sum2->Get();
  EXPECT_EQ(v.status().code(), absl::StatusCode::kCancelled) << v.status();
  ASSERT_GE(first_ms.load(), 0);
  // Generous bounds (sanitizer builds, a loaded machine); the old engine
  // needed 18.7 s and 1.55 GB before its first tile.
  EXPECT_LT(first_ms.load(), 5000);
  EXPECT_LT(max_rss.load() - rss_before, kBudget + (32 << 20));
  const RunStats& st = (*ctx2)->last_run_stats();
  EXPECT_LE(st.peak_live_bytes, st.budget_bytes);
  EXPECT_GT(st.tasks, 1000);
}

TEST(ConcurrencyTest, TwoContextsInTwoThreadsEachGetTheirWorkers) {
  const size_t before = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  auto run = [](int workers, int* max_concurrent) {
    auto ctx = Context::Create({.workers = workers, .tiling = {.tile_size = 16}});
    ASSERT_TRUE(ctx.ok());
    Profile p;
    p.width = p.height = 128;  // 64 tiles
    p.type = PixelType::kU8;
    auto src = (*ctx)->CreateConstant(p, 1);
    std::atomic<int> now{0}, most{0};
    MapFilter f = AddOne("busy");
    MapFunction inner = f.fn;
    f.fn = [&, inner](const MapTile& t) {
      const int c = ++now;
      int m = most.load();
      while (c > m && !most.compare_exchange_weak(m, c)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --now;
      return inner(t);
    };
    auto out = (*ctx)->Map({*src}, f);
    ASSERT_TRUE(out.ok());
    auto a = (*ctx)->ReadAll((*out)[0]);
    ASSERT_TRUE(a.ok()) << a.status();
    *max_concurrent = most.load();
  };
  int one = 0, four = 0;
  int alone = 0;
  run(4, &alone);
  std::thread t1(run, 1, &one);
  std::thread t4(run, 4, &four);
  t1.join();
  t4.join();
  EXPECT_EQ(alone, 4);
  EXPECT_EQ(one, 1);
  EXPECT_EQ(four, 4);  // sleeping tasks: four threads even on two cores
  // The process's own parallelism was never lowered.
  EXPECT_GE(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism), before);
}

// A generator: pixel (x, y) = (x + 3 y) mod 251. Records the windows read.
class GeneratorSource final : public RasterSource {
 public:
  explicit GeneratorSource(Profile p) : profile_(std::move(p)) {}
  const Profile& profile() const override { return profile_; }
  int block_width() const override { return 32; }
  int block_height() const override { return 32; }
  absl::Status Read(const View& dst) override {
    auto v = dst.As<uint8_t>();
    const Window& w = dst.window();
    for (int y = 0; y < w.height; ++y)
      for (int x = 0; x < w.width; ++x) v(0, y, x) = static_cast<uint8_t>((w.x + x + 3 * (w.y + y)) % 251);
    std::lock_guard<std::mutex> l(mu_);
    read_.push_back(w);
    return absl::OkStatus();
  }
  const std::string& description() const override { return name_; }
  // The bounding box of every window read.
  Window ReadBounds() const {
    std::lock_guard<std::mutex> l(mu_);
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = 0, y1 = 0;
    for (const Window& w : read_) {
      x0 = std::min(x0, w.x), y0 = std::min(y0, w.y);
      x1 = std::max(x1, w.x + w.width), y1 = std::max(y1, w.y + w.height);
    }
    return {x0, y0, x1 - x0, y1 - y0};
  }

 private:
  Profile profile_;
  std::string name_ = "generator";
  mutable std::mutex mu_;
  std::vector<Window> read_;
};

// Collects tiles into an array and records the protocol calls.
class CollectingSink final : public RasterSink {
 public:
  explicit CollectingSink(const Profile& p) : array_(p) {}
  absl::Status Write(const ConstView& src) override {
    CopyPixels(src, array_.mutable_view().Sub(src.window()));
    ++writes_;
    return absl::OkStatus();
  }
  absl::Status Finish() override { calls_ += "F"; return absl::OkStatus(); }
  absl::Status Commit() override { calls_ += "C"; return absl::OkStatus(); }
  void Rollback() override { calls_ += "R"; }
  void Cleanup() override { calls_ += "U"; }
  void Abort() override { calls_ += "A"; }
  const std::string& path() const override { return name_; }
  const Array& array() const { return array_; }
  const std::string& calls() const { return calls_; }
  int writes() const { return writes_; }

 private:
  Array array_;
  std::string name_ = "collector";
  std::string calls_;
  int writes_ = 0;
};

Profile U8(int w, int h) {
  Profile p;
  p.width = w;
  p.height = h;
  p.type = PixelType::kU8;
  p.geotransform = {1000.0, 10.0, 0.0, 5000.0, 0.0, -10.0};
  return p;
}

TEST(PluggableIoTest, UserSourceAndSinkRunThroughTheSameTilePath) {
  auto ctx = Context::Create({.workers = 2, .tiling = {.tile_size = 32}});
  ASSERT_TRUE(ctx.ok());
  const Profile p = U8(100, 70);
  auto gen = std::make_shared<GeneratorSource>(p);
  auto in = (*ctx)->Open(gen);
  ASSERT_TRUE(in.ok()) << in.status();
  auto out = (*ctx)->Map({*in}, AddOne("plus one"));
  auto sink = std::make_shared<CollectingSink>(p);
  ASSERT_TRUE((*ctx)->Write((*out)[0], sink).ok());
  ASSERT_TRUE((*ctx)->Run().ok());
  EXPECT_EQ(sink->calls(), "FCU");  // finished, committed, cleaned up; never aborted
  EXPECT_EQ(sink->writes(), 4 * 3);
  auto v = sink->array().view().As<uint8_t>();
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < p.width; ++x) ASSERT_EQ(v(0, y, x), (x + 3 * y) % 251 + 1) << x << "," << y;
}

TEST(PluggableIoTest, AFailingRunAbortsTheUserSink) {
  auto ctx = Context::Create({.workers = 2, .tiling = {.tile_size = 32}});
  const Profile p = U8(64, 64);
  auto in = (*ctx)->Open(std::make_shared<GeneratorSource>(p));
  MapFilter bad = AddOne("bad");
  bad.fn = [](const MapTile& t) {
    return t.tile.window.x > 0 ? absl::InternalError("boom") : absl::OkStatus();
  };
  auto out = (*ctx)->Map({*in}, bad);
  auto sink = std::make_shared<CollectingSink>(p);
  ASSERT_TRUE((*ctx)->Write((*out)[0], sink).ok());
  absl::Status s = (*ctx)->Run();
  EXPECT_THAT(std::string(s.message()), HasSubstr("filter 'bad'"));
  EXPECT_EQ(sink->calls().find('C'), std::string::npos);
  EXPECT_NE(sink->calls().find('A'), std::string::npos);
}

class RegionRunTest : public ::testing::TestWithParam<int> {};

TEST_P(RegionRunTest, EqualsTheSameWindowOfAWholeImageRunAndReadsOnlyWhatItNeeds) {
  const int tile = GetParam();
  const Profile p = U8(150, 110);
  auto whole_ctx = Context::Create({.workers = 2, .tiling = {.tile_size = tile}});
  auto whole_in = (*whole_ctx)->Open(std::make_shared<GeneratorSource>(p));
  auto w1 = (*whole_ctx)->Map({*whole_in}, Mean3("mean a"));
  auto w2 = (*whole_ctx)->Map({(*w1)[0]}, AddOne("plus one"));
  auto w3 = (*whole_ctx)->Map({(*w2)[0]}, Mean3("mean b"));
  auto whole = (*whole_ctx)->ReadAll((*w3)[0]);
  ASSERT_TRUE(whole.ok()) << whole.status();
  for (const Window& win : {Window{40, 30, 50, 40}, Window{0, 0, 17, 9}, Window{133, 101, 17, 9},
                            Window{0, 50, 150, 1}}) {
    auto ctx = Context::Create({.workers = 2, .tiling = {.tile_size = tile}});
    auto gen = std::make_shared<GeneratorSource>(p);
    auto in = (*ctx)->Open(gen);
    auto a = (*ctx)->Map({*in}, Mean3("mean a"));
    auto b = (*ctx)->Map({(*a)[0]}, AddOne("plus one"));
    auto c = (*ctx)->Map({(*b)[0]}, Mean3("mean b"));
    auto part = (*ctx)->ReadAll((*c)[0], win);
    ASSERT_TRUE(part.ok()) << part.status();
    ASSERT_EQ(part->profile().width, win.width);
    ASSERT_EQ(part->profile().height, win.height);
    EXPECT_DOUBLE_EQ(part->profile().geotransform[0], 1000.0 + 10.0 * win.x);
    EXPECT_DOUBLE_EQ(part->profile().geotransform[3], 5000.0 - 10.0 * win.y);
    auto got = part->view().As<uint8_t>();
    auto want = whole->view().As<uint8_t>();
    for (int y = 0; y < win.height; ++y)
      for (int x = 0; x < win.width; ++x)
        ASSERT_EQ(got(0, y, x), want(0, win.y + y, win.x + x)) << DescribeWindow(win) << " at " << x << "," << y;
    // Reads stay within the window grown by the chain's margins (2).
    const Window r = gen->ReadBounds();
    const Window grown{std::max(0, win.x - 2), std::max(0, win.y - 2), 0, 0};
    EXPECT_GE(r.x, grown.x);
    EXPECT_GE(r.y, grown.y);
    EXPECT_LE(r.x + r.width, std::min(p.width, win.x + win.width + 2));
    EXPECT_LE(r.y + r.height, std::min(p.height, win.y + win.height + 2));
  }
}

INSTANTIATE_TEST_SUITE_P(TileSizes, RegionRunTest, ::testing::Values(8, 16, 64));

TEST(RegionRunTest, WritesTheWindowAsAGeoreferencedFile) {
  TempDir dir;
  const Profile p = U8(120, 90);
  auto ctx = Context::Create({.workers = 2, .tiling = {.tile_size = 32}});
  auto in = (*ctx)->Open(std::make_shared<GeneratorSource>(p));
  auto m = (*ctx)->Map({*in}, Mean3("mean"));
  auto whole = (*ctx)->ReadAll((*m)[0]);
  ASSERT_TRUE(whole.ok());
  const Window win{35, 20, 40, 33};
  ASSERT_TRUE((*ctx)->Write((*m)[0], dir.File("part.tif"), WriteOptions{{}, win}).ok());
  ASSERT_TRUE((*ctx)->Run().ok());
  Array part = ReadTiff(dir.File("part.tif"));
  ASSERT_EQ(part.profile().width, win.width);
  ASSERT_EQ(part.profile().height, win.height);
  EXPECT_DOUBLE_EQ(part.profile().geotransform[0], 1000.0 + 10.0 * win.x);
  EXPECT_DOUBLE_EQ(part.profile().geotransform[3], 5000.0 - 10.0 * win.y);
  auto got = part.view().As<uint8_t>();
  auto want = whole->view().As<uint8_t>();
  for (int y = 0; y < win.height; ++y)
    for (int x = 0; x < win.width; ++x) ASSERT_EQ(got(0, y, x), want(0, win.y + y, win.x + x));
  // A window outside the image is refused at Write.
  absl::Status s = (*ctx)->Write((*m)[0], dir.File("bad.tif"), WriteOptions{{}, Window{100, 80, 40, 40}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not inside the image"));
}

// A margin past the image reads the whole image, whatever its value: a
// chain of two INT_MAX margins used to overflow the region computed
// ("cannot tile an image of -2147483349x-2147483449").
TEST(MarginTest, MarginsPastTheImageRunAsTheImagesSide) {
  Profile p;
  p.width = 50;
  p.height = 40;
  p.type = PixelType::kI32;
  Array a(p);
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) a.mutable_view().As<int32_t>()(0, y, x) = y * 100 + x;
  }
  ContextOptions o;
  o.tiling.tile_size = 16;
  auto ctx = Context::Create(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  absl::StatusOr<Image> src = (*ctx)->FromArray(std::move(a));
  ASSERT_TRUE(src.ok()) << src.status();
  // Each output pixel: its input plus the number of input pixels the tile
  // sees (the whole image, whatever the tile).
  MapFilter f;
  f.name = "sees all";
  f.margin = INT32_MAX;
  f.fn = [](const MapTile& t) -> absl::Status {
    const Window seen = t.inputs[0].window();
    if (seen.x != 0 || seen.y != 0 || seen.width != 50 || seen.height != 40) {
      return absl::InternalError(absl::StrCat("tile ", t.tile.index, " sees ", DescribeWindow(seen)));
    }
    const auto in = t.In<int32_t>(0);
    const auto out = t.Out<int32_t>(0);
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) out(0, y, x) = in(0, y, x) + 2000;
    }
    return absl::OkStatus();
  };
  auto m1 = (*ctx)->Map({*src}, f);
  ASSERT_TRUE(m1.ok()) << m1.status();
  auto m2 = (*ctx)->Map({(*m1)[0]}, f);
  ASSERT_TRUE(m2.ok()) << m2.status();
  absl::StatusOr<Array> got = (*ctx)->ReadAll((*m2)[0]);
  ASSERT_TRUE(got.ok()) << got.status();
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 50; ++x) ASSERT_EQ(got->view().As<int32_t>()(0, y, x), y * 100 + x + 4000) << x << "," << y;
  }
}

}  // namespace
}  // namespace eoscale
