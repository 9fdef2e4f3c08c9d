// filters_benchmark: each filter's own throughput, in Mpx/s of output
// pixels, with no engine around it: the filter's tile function is called
// directly on one tile of 512 x 512 pixels (plus the filter's margin of real
// neighbours on every side, as an inner tile of a larger image has), on one
// thread. The engine's cost comes on top (scheduling_benchmark) and is
// shared by the workers (macro_benchmark).
//
// Inputs are synthetic and deterministic: S2-like int16 reflectances, the
// pipeline example's float32 DSM with nodata holes (MakeSyntheticDsm, with a
// 180 x 160 hole wider than the fill's search distance in every tile), 0/1
// masks.
//
// --smoke: 64 x 64 tiles, for CI.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "pipeline.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/cast.h"
#include "eoscale/filters/concatenate.h"
#include "eoscale/filters/convolve.h"
#include "eoscale/filters/expression.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/generic_kernel.h"
#include "eoscale/filters/histogram.h"
#include "eoscale/filters/logical.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/normalized_difference.h"
#include "eoscale/filters/statistics.h"
#include "eoscale/filters/threshold.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/filter.h"

namespace eoscale::bench {
namespace {

int g_tile = 512;
std::unique_ptr<TempDir> g_dir;

inline uint32_t Mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

Profile ImageProfile(int side, int bands, PixelType type) {
  Profile p;
  p.width = p.height = side;
  p.bands = bands;
  p.type = type;
  return p;
}

// Kinds of input, each an image of side x side.
Array S2Bands(int side, int bands, uint32_t salt) {
  Array a(ImageProfile(side, bands, PixelType::kI16));
  auto s = a.MutableSamples<int16_t>();
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<int16_t>(Mix(static_cast<uint32_t>(i) ^ salt) % 10001);
  return a;
}
// The example's synthetic DSM of side x side, generated once per side.
Array Dsm(int side) {
  static std::map<int, Array> cache;
  if (auto it = cache.find(side); it != cache.end()) {
    Array copy(it->second.profile());
    std::memcpy(copy.mutable_data(), it->second.data(), copy.bytes());
    return copy;
  }
  const std::string path = (g_dir->path() / absl::StrCat("dsm_", side, ".tif")).string();
  absl::Status st = examples::MakeSyntheticDsm(path, side, side);
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create({});
  absl::StatusOr<Image> img = ctx.ok() ? (*ctx)->Open(path) : absl::StatusOr<Image>(ctx.status());
  absl::StatusOr<Array> a = img.ok() ? (*ctx)->ReadAll(*img) : absl::StatusOr<Array>(img.status());
  if (!st.ok() || !a.ok()) {
    std::fprintf(stderr, "filters_benchmark: synthetic DSM: %s\n", (st.ok() ? a.status() : st).ToString().c_str());
    std::exit(1);
  }
  cache.emplace(side, *std::move(a));
  return Dsm(side);
}
Array DsmNodataMask(int side) {
  Array dsm = Dsm(side);
  Array m(ImageProfile(side, 1, PixelType::kU8));
  auto d = dsm.Samples<float>();
  auto o = m.MutableSamples<uint8_t>();
  for (size_t i = 0; i < d.size(); ++i) o[i] = d[i] == -32768.0f ? 1 : 0;
  return m;
}
Array Ndwi(int side) {  // values in [-1, 1]
  Array a(ImageProfile(side, 1, PixelType::kF32));
  auto s = a.MutableSamples<float>();
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<float>(Mix(static_cast<uint32_t>(i)) % 2001) / 1000.0f - 1.0f;
  return a;
}
Array Mask(int side, uint32_t salt) {
  Array a(ImageProfile(side, 1, PixelType::kU8));
  auto s = a.MutableSamples<uint8_t>();
  for (size_t i = 0; i < s.size(); ++i) s[i] = (Mix(static_cast<uint32_t>(i) ^ salt) & 7) != 0 ? 1 : 0;
  return a;
}

using InputMaker = std::function<std::vector<Array>(int side)>;

// One tile of g_tile x g_tile pixels in the middle of an image of side
// g_tile + 2 * margin: inputs cover the tile and its full margin.
struct MapCase {
  MapFilter filter;
  std::vector<Array> inputs;
  std::vector<Profile> in_profiles;
  std::vector<ConstView> in_views;
  std::vector<Profile> out_profiles;
  std::vector<std::unique_ptr<std::byte[]>> out_data;
  std::vector<View> out_views;
  Tile tile;
};

absl::Status Prepare(MapCase* c, const InputMaker& make) {
  const int m = c->filter.margin;
  const int side = g_tile + 2 * m;
  c->inputs = make(side);
  for (const Array& a : c->inputs) {
    c->in_profiles.push_back(a.profile());
    c->in_views.push_back(a.view());
  }
  if (c->filter.profiles) {
    absl::StatusOr<std::vector<Profile>> p = c->filter.profiles(c->in_profiles);
    if (!p.ok()) return p.status();
    c->out_profiles = *p;
  } else {
    c->out_profiles = {c->in_profiles[0]};
  }
  c->tile.window = {m, m, g_tile, g_tile};
  c->tile.top = c->tile.right = c->tile.bottom = c->tile.left = m;
  for (const Profile& p : c->out_profiles) {
    const size_t bytes = static_cast<size_t>(g_tile) * g_tile * p.bands * PixelSize(p.type);
    c->out_data.push_back(std::make_unique<std::byte[]>(bytes));
    c->out_views.push_back(View::Contiguous(c->out_data.back().get(), p.type, p.bands, c->tile.window));
  }
  return absl::OkStatus();
}

void RunMap(benchmark::State& state, const std::function<absl::StatusOr<MapFilter>()>& make_filter,
            const InputMaker& make_inputs) {
  MapCase c;
  absl::StatusOr<MapFilter> f = make_filter();
  if (!f.ok()) {
    state.SkipWithError(f.status().ToString().c_str());
    return;
  }
  c.filter = *std::move(f);
  if (absl::Status s = Prepare(&c, make_inputs); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  const MapTile mt{c.tile, c.in_views, c.in_profiles, c.out_views, c.out_profiles};
  for (auto _ : state) {
    absl::Status s = c.filter.fn(mt);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::ClobberMemory();
  }
  const double px = static_cast<double>(g_tile) * g_tile;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(px));
  state.counters["Mpx/s"] = benchmark::Counter(px * 1e-6 * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
  state.counters["margin"] = c.filter.margin;
}

template <typename V>
void RunReduce(benchmark::State& state, ReduceFilter<V> filter, const InputMaker& make_inputs) {
  std::vector<Array> inputs = make_inputs(g_tile);
  std::vector<Profile> profiles;
  std::vector<ConstView> views;
  for (const Array& a : inputs) {
    profiles.push_back(a.profile());
    views.push_back(a.view());
  }
  Tile tile;
  tile.window = {0, 0, g_tile, g_tile};
  const ReduceTile rt{tile, views, profiles};
  for (auto _ : state) {
    absl::StatusOr<V> v = filter.map(rt);
    if (!v.ok()) {
      state.SkipWithError(v.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(std::as_const(*v));  // the const overload: see buffer_pool_benchmark.cc
  }
  const double px = static_cast<double>(g_tile) * g_tile;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(px));
  state.counters["Mpx/s"] = benchmark::Counter(px * 1e-6 * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}

void RegisterMap(const std::string& name, std::function<absl::StatusOr<MapFilter>()> filter, InputMaker inputs) {
  benchmark::RegisterBenchmark(name.c_str(), [filter, inputs](benchmark::State& s) { RunMap(s, filter, inputs); })
      ->Unit(benchmark::kMicrosecond);
}

void RegisterAll() {
  auto dsm = [](int s) {
    std::vector<Array> v;
    v.push_back(Dsm(s));
    return v;
  };
  auto dsm_and_mask = [](int s) {
    std::vector<Array> v;
    v.push_back(Dsm(s));
    v.push_back(DsmNodataMask(s));
    return v;
  };
  auto i16 = [](int s) {
    std::vector<Array> v;
    v.push_back(S2Bands(s, 1, 1));
    return v;
  };
  auto two_i16 = [](int s) {
    std::vector<Array> v;
    v.push_back(S2Bands(s, 1, 1));
    v.push_back(S2Bands(s, 1, 2));
    return v;
  };
  auto g_nir = [](int s) {
    std::vector<Array> v;
    v.push_back(S2Bands(s, 2, 1));
    return v;
  };
  auto four_dates = [](int s) {
    std::vector<Array> v;
    for (uint32_t d = 1; d <= 4; ++d) v.push_back(S2Bands(s, 2, d));
    return v;
  };
  auto ndwi = [](int s) {
    std::vector<Array> v;
    v.push_back(Ndwi(s));
    return v;
  };
  auto four_masks = [](int s) {
    std::vector<Array> v;
    for (uint32_t d = 1; d <= 4; ++d) v.push_back(Mask(s, d));
    return v;
  };
  auto one_mask = [](int s) {
    std::vector<Array> v;
    v.push_back(Mask(s, 1));
    return v;
  };

  RegisterMap("cast/i16_to_f32", [] { return filters::Cast(PixelType::kF32); }, i16);
  RegisterMap("concatenate/2xi16", [] { return filters::Concatenate(PixelType::kI16); }, two_i16);
  RegisterMap("convolve/3x3/f32", [] { return filters::Convolve(std::vector<double>(9, 1.0 / 9), 3, 3); }, dsm);
  RegisterMap("fill_nodata/d100/dsm+mask", [] { return filters::FillNodata({.max_search_distance = 100}); },
              dsm_and_mask);
  RegisterMap("fill_nodata/d100/dsm", [] { return filters::FillNodata({.max_search_distance = 100}); }, dsm);
  RegisterMap("generic_kernel/mean_r1/f32", [] { return filters::GenericKernel(1, filters::kernel::Mean()); }, dsm);
  RegisterMap("uniform/3/f32", [] { return filters::Uniform(3); }, dsm);
  RegisterMap("logical_and/4xu8", [] { return filters::LogicalAnd(); }, four_masks);
  RegisterMap("logical_or/4xu8", [] { return filters::LogicalOr(); }, four_masks);
  RegisterMap("logical_not/u8", [] { return filters::LogicalNot(); }, one_mask);
  RegisterMap("nodata_mask/f32", [] { return filters::NodataMask(); }, dsm);
  RegisterMap("normalized_difference/i16", [] { return filters::NormalizedDifference(1, 2, 0.001f); }, g_nir);
  RegisterMap("threshold/f32", [] { return filters::Threshold(0.0); }, ndwi);
  RegisterMap("expression/water_mask_4_dates",
              [] {
                filters::ExpressionOptions o;
                o.input_bands = std::vector<std::vector<int>>(4, std::vector<int>{2, 4});
                return filters::Expression(
                    "(im1b2-im1b4)/(im1b2+im1b4+0.001) > 0 && (im2b2-im2b4)/(im2b2+im2b4+0.001) > 0 && "
                    "(im3b2-im3b4)/(im3b2+im3b4+0.001) > 0 && (im4b2-im4b4)/(im4b2+im4b4+0.001) > 0",
                    PixelType::kU8, o);
              },
              four_dates);
  benchmark::RegisterBenchmark("min_max/f32", [dsm](benchmark::State& s) { RunReduce(s, filters::MinMax(), dsm); })
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("statistics/f32",
                               [dsm](benchmark::State& s) { RunReduce(s, filters::Statistics(), dsm); })
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("histogram/256_bins/f32", [dsm](benchmark::State& s) {
    RunReduce(s, filters::Histogram(filters::UniformEdges(50.0, 200.0, 256)), dsm);
  })->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      eoscale::bench::g_tile = 64;
    } else {
      std::fprintf(stderr, "filters_benchmark: unknown flag '%s' (only --smoke and --benchmark_*)\n", argv[i]);
      return 2;
    }
  }
  absl::StatusOr<std::unique_ptr<eoscale::bench::TempDir>> dir = eoscale::bench::TempDir::Create("filters_benchmark");
  if (!dir.ok()) {
    std::fprintf(stderr, "filters_benchmark: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  eoscale::bench::g_dir = *std::move(dir);
  eoscale::bench::RegisterAll();
  eoscale::bench::SummaryReporter reporter("", {});
  const int rc = eoscale::bench::RunBenchmarks(&reporter);
  eoscale::bench::g_dir.reset();
  return rc;
}
