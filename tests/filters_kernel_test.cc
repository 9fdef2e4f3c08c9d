// The neighbourhood filters (GenericKernel, Convolve, Uniform) against plain
// whole-image references written after scipy.ndimage: the image is padded
// once with scipy's line extension (NI_ExtendLine's copy loops, independent
// of the library's index arithmetic), then every output pixel is computed
// from its window. Outputs must be bitwise identical, for every border mode,
// odd sizes, windows wider than the image, tiles and strips, and several
// worker counts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "eoscale/filters/convolve.h"
#include "eoscale/filters/generic_kernel.h"
#include "eoscale/filters/uniform.h"
#include "filters_test_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using filters::BorderMode;
using ::eoscale::testing::AllConfigs;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RunConfig;
using ::eoscale::testing::RunMap;
using ::eoscale::testing::RunMap1;
using ::eoscale::testing::SameArray;
using ::eoscale::testing::SomeConfigs;

constexpr BorderMode kAllModes[] = {BorderMode::kReflect, BorderMode::kMirror, BorderMode::kNearest,
                                    BorderMode::kWrap, BorderMode::kConstant};

Profile MakeProfile(int w, int h, int bands, PixelType type) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = bands;
  p.type = type;
  p.geotransform = {100.0, 0.5, 0.0, 200.0, 0.0, -0.5};
  return p;
}

// scipy's NI_ExtendLine: `line` holds `before` free slots, the n samples,
// then `after` free slots; fills the free slots.
void ExtendLine(std::vector<double>& line, int before, int after, BorderMode mode, double cval) {
  const int n = static_cast<int>(line.size()) - before - after;
  double* first = line.data() + before;
  double* last = first + n;
  switch (mode) {
    case BorderMode::kConstant:
      for (int i = 0; i < before; ++i) line[i] = cval;
      for (int i = 0; i < after; ++i) last[i] = cval;
      break;
    case BorderMode::kNearest:
      for (int i = 0; i < before; ++i) line[i] = *first;
      for (int i = 0; i < after; ++i) last[i] = last[-1];
      break;
    case BorderMode::kWrap: {
      double* src = last - 1;
      double* dst = first - 1;
      for (int i = 0; i < before; ++i) *dst-- = *src--;
      src = first;
      dst = last;
      for (int i = 0; i < after; ++i) *dst++ = *src++;
      break;
    }
    case BorderMode::kReflect: {
      double* src = first;
      double* dst = first - 1;
      int k = before;
      while (k > 0 && src < last) {
        *dst-- = *src++;
        --k;
      }
      src = last - 1;
      while (k-- > 0) *dst-- = *src--;
      src = last - 1;
      dst = last;
      k = after;
      while (k > 0 && src >= first) {
        *dst++ = *src--;
        --k;
      }
      src = first;
      while (k-- > 0) *dst++ = *src++;
      break;
    }
    case BorderMode::kMirror: {
      if (n == 1) {
        for (int i = 0; i < before; ++i) line[i] = *first;
        for (int i = 0; i < after; ++i) last[i] = *first;
        break;
      }
      double* src = first + 1;
      double* dst = first - 1;
      int k = before;
      while (k > 0 && src < last) {
        *dst-- = *src++;
        --k;
      }
      src = last - 2;
      while (k-- > 0) *dst-- = *src--;
      src = last - 2;
      dst = last;
      k = after;
      while (k > 0 && src >= first) {
        *dst++ = *src--;
        --k;
      }
      src = first + 1;
      while (k-- > 0) *dst++ = *src++;
      break;
    }
  }
}

// One band of `a` as doubles, padded by (top, bottom, left, right) with
// scipy's extension, axis by axis.
struct Padded {
  int w, h;  // padded size
  std::vector<double> v;
  double at(int y, int x) const { return v[static_cast<size_t>(y) * w + x]; }
};

template <typename T>
Padded Pad(const Array& a, int band, int top, int bottom, int left, int right, BorderMode mode, double cval) {
  const Profile& p = a.profile();
  auto s = a.Samples<T>();
  const int64_t plane = static_cast<int64_t>(p.width) * p.height;
  Padded out{p.width + left + right, p.height + top + bottom, {}};
  out.v.assign(static_cast<size_t>(out.w) * out.h, 0.0);
  std::vector<double> line;
  for (int y = 0; y < p.height; ++y) {
    line.assign(p.width + left + right, 0.0);
    for (int x = 0; x < p.width; ++x) line[left + x] = static_cast<double>(s[band * plane + y * p.width + x]);
    ExtendLine(line, left, right, mode, cval);
    for (int x = 0; x < out.w; ++x) out.v[static_cast<size_t>(y + top) * out.w + x] = line[x];
  }
  for (int x = 0; x < out.w; ++x) {
    line.assign(p.height + top + bottom, 0.0);
    for (int y = 0; y < p.height; ++y) line[top + y] = out.at(y + top, x);
    ExtendLine(line, top, bottom, mode, cval);
    for (int y = 0; y < out.h; ++y) out.v[static_cast<size_t>(y) * out.w + x] = line[y];
  }
  return out;
}

// The reference output conversion: truncation toward zero, saturation, NaN -> 0.
template <typename Out>
Out RefConvert(double v) {
  if constexpr (std::is_floating_point_v<Out>) {
    return static_cast<Out>(v);
  } else {
    if (std::isnan(v)) return 0;
    v = std::trunc(v);
    v = std::max(v, static_cast<double>(std::numeric_limits<Out>::lowest()));
    v = std::min(v, static_cast<double>(std::numeric_limits<Out>::max()));
    return static_cast<Out>(v);
  }
}

// ---------------------------------------------------------------------------
// GenericKernel

using Reduction = std::function<double(std::span<const double>)>;

Array RefGeneric(const Array& in, int r, const Reduction& reduce, BorderMode mode, double cval, PixelType out_type) {
  Profile po = in.profile();
  po.type = out_type;
  Array out(po);
  const int k = 2 * r + 1;
  std::vector<double> win(k * k);
  DispatchPixelType(in.profile().type, [&]<typename In>() {
    DispatchPixelType(out_type, [&]<typename Out>() {
      auto d = out.MutableSamples<Out>();
      const int64_t plane = static_cast<int64_t>(po.width) * po.height;
      for (int b = 0; b < po.bands; ++b) {
        const Padded p = Pad<In>(in, b, r, r, r, r, mode, cval);
        for (int y = 0; y < po.height; ++y) {
          for (int x = 0; x < po.width; ++x) {
            for (int a = 0; a < k; ++a) {
              for (int c = 0; c < k; ++c) win[a * k + c] = p.at(y + a, x + c);
            }
            d[b * plane + static_cast<int64_t>(y) * po.width + x] = RefConvert<Out>(reduce(win));
          }
        }
      }
    });
  });
  return out;
}

double RefSum(std::span<const double> w) {
  double s = 0;
  for (double v : w) s += v;
  return s;
}

double RefMax(std::span<const double> w) {
  double m = w[0];
  for (double v : w) {
    if (std::isnan(v)) return v;
    m = std::max(m, v);
  }
  return m;
}

// A user reduction: the median (as numpy: mean of the middle two).
double Median(std::span<const double> w) {
  std::vector<double> v(w.begin(), w.end());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

TEST(GenericKernelTest, EveryBorderModeEqualsTheWholeImageReference) {
  const Array f = RandomArray(MakeProfile(41, 23, 2, PixelType::kF32), 11);
  const Array s = RandomArray(MakeProfile(41, 23, 1, PixelType::kI16), 12);
  struct Case {
    std::string name;
    filters::KernelReduction filter;
    Reduction ref;
  };
  const std::vector<Case> cases = {{"sum", filters::kernel::Sum(), RefSum},
                                   {"max", filters::kernel::Max(), RefMax},
                                   {"median", Median, Median}};
  for (BorderMode mode : kAllModes) {
    for (int r : {1, 3}) {
      for (const Case& c : cases) {
        SCOPED_TRACE(absl::StrCat(filters::BorderModeName(mode), " r=", r, " ", c.name));
        const filters::GenericKernelOptions o{mode, 7.5, PixelType::kF32};
        const Array want_f = RefGeneric(f, r, c.ref, mode, 7.5, PixelType::kF32);
        const Array want_s = RefGeneric(s, r, c.ref, mode, 7.5, PixelType::kF32);
        for (const RunConfig& cfg : SomeConfigs()) {
          SCOPED_TRACE(cfg.Name());
          auto got = RunMap(cfg, {&f, &s}, filters::GenericKernel(r, c.filter, o));  // N -> N
          ASSERT_TRUE(got.ok()) << got.status();
          ASSERT_EQ(got->size(), 2u);
          EXPECT_TRUE(SameArray((*got)[0], want_f));
          EXPECT_TRUE(SameArray((*got)[1], want_s));
        }
      }
    }
  }
}

TEST(GenericKernelTest, SameForEveryTilingAndWorkerCount) {
  const Array f = RandomArray(MakeProfile(53, 37, 1, PixelType::kF32), 13);
  for (BorderMode mode : {BorderMode::kReflect, BorderMode::kConstant}) {
    const Array want = RefGeneric(f, 2, RefSum, mode, 0.0, PixelType::kF64);
    for (const RunConfig& c : AllConfigs()) {
      SCOPED_TRACE(c.Name());
      auto got = RunMap1(c, {&f}, filters::GenericKernel(2, filters::kernel::Sum(), {mode, 0.0, PixelType::kF64}));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(SameArray(*got, want));
    }
  }
}

TEST(GenericKernelTest, WindowsWiderThanTheImage) {
  const Array f = RandomArray(MakeProfile(5, 3, 1, PixelType::kF32), 14);
  for (BorderMode mode : kAllModes) {
    SCOPED_TRACE(filters::BorderModeName(mode));
    const Array want = RefGeneric(f, 4, Median, mode, -1.0, PixelType::kF32);
    for (const RunConfig& c : SomeConfigs()) {
      auto got = RunMap1(c, {&f}, filters::GenericKernel(4, Median, {mode, -1.0, PixelType::kF32}));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(SameArray(*got, want)) << c.Name();
    }
  }
}

// Behind another Map, the input arrives through the engine's gather of
// neighbour tiles; kWrap's margin then gathers the whole image.
TEST(GenericKernelTest, BehindAnotherMapForEveryMode) {
  const Array f = RandomArray(MakeProfile(33, 21, 1, PixelType::kF32), 16);
  for (BorderMode mode : kAllModes) {
    SCOPED_TRACE(filters::BorderModeName(mode));
    const Array want = RefGeneric(f, 2, RefSum, mode, 1.0, PixelType::kF32);
    for (const RunConfig& c : SomeConfigs()) {
      auto ctx = Context::Create(c.Options());
      ASSERT_TRUE(ctx.ok());
      auto img = (*ctx)->FromArray(testing::CopyArray(f));
      ASSERT_TRUE(img.ok());
      MapFilter copy;
      copy.name = "copy";
      copy.fn = [](const MapTile& t) {
        CopyPixels(t.inputs[0], t.outputs[0]);
        return absl::OkStatus();
      };
      auto copied = (*ctx)->Map({*img}, copy);
      ASSERT_TRUE(copied.ok()) << copied.status();
      auto out = (*ctx)->Map(*copied, filters::GenericKernel(2, filters::kernel::Sum(), {mode, 1.0, PixelType::kF32}));
      ASSERT_TRUE(out.ok()) << out.status();
      auto got = (*ctx)->ReadAll((*out)[0]);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(SameArray(*got, want)) << c.Name();
    }
  }
}

TEST(GenericKernelTest, ConvertsToTheOutputTypeWithSaturation) {
  const Array f = RandomArray(MakeProfile(29, 19, 1, PixelType::kF32), 15);  // [-1000, 1000)
  for (PixelType t : {PixelType::kU8, PixelType::kI16, PixelType::kU32}) {
    const Array want = RefGeneric(f, 1, RefSum, BorderMode::kNearest, 0.0, t);
    auto got = RunMap1({2, TileMode::kTiles, 7, false}, {&f},
                       filters::GenericKernel(1, filters::kernel::Sum(), {BorderMode::kNearest, 0.0, t}));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want)) << PixelTypeName(t);
  }
}

TEST(GenericKernelTest, RejectsBadParametersBeforeRunning) {
  auto ctx = Context::Create({});
  ASSERT_TRUE(ctx.ok());
  auto img = (*ctx)->CreateConstant(MakeProfile(8, 8, 1, PixelType::kF32));
  ASSERT_TRUE(img.ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::GenericKernel(-1, filters::kernel::Sum())).ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::GenericKernel(1, nullptr)).ok());
}

// ---------------------------------------------------------------------------
// Convolve

// out(y, x) = sum over (i, j) of w(i, j) * in(y + rows/2 - i, x + cols/2 - j),
// summed in scipy's order (i, then j, descending), skipping tiny weights.
Array RefConvolve(const Array& in, const std::vector<double>& w, int rows, int cols, BorderMode mode, double cval,
                  PixelType out_type) {
  Profile po = in.profile();
  po.type = out_type;
  Array out(po);
  const int top = rows - 1 - rows / 2, bottom = rows / 2, left = cols - 1 - cols / 2, right = cols / 2;
  DispatchPixelType(in.profile().type, [&]<typename In>() {
    DispatchPixelType(out_type, [&]<typename Out>() {
      auto d = out.MutableSamples<Out>();
      const int64_t plane = static_cast<int64_t>(po.width) * po.height;
      for (int b = 0; b < po.bands; ++b) {
        const Padded p = Pad<In>(in, b, top, bottom, left, right, mode, cval);
        for (int y = 0; y < po.height; ++y) {
          for (int x = 0; x < po.width; ++x) {
            double acc = 0.0;
            for (int i = rows - 1; i >= 0; --i) {
              for (int j = cols - 1; j >= 0; --j) {
                const double wij = w[i * cols + j];
                if (std::fabs(wij) <= std::numeric_limits<double>::epsilon()) continue;
                // image (y + rows/2 - i, x + cols/2 - j) in padded coordinates
                acc += p.at(y + top + rows / 2 - i, x + left + cols / 2 - j) * wij;
              }
            }
            d[b * plane + static_cast<int64_t>(y) * po.width + x] = RefConvert<Out>(acc);
          }
        }
      }
    });
  });
  return out;
}

TEST(ConvolveTest, EqualsTheWholeImageReference) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const Array f = RandomArray(MakeProfile(43, 31, 2, PixelType::kF32), 21);
  const Array s = RandomArray(MakeProfile(43, 31, 1, PixelType::kI16), 22);
  for (auto [rows, cols] : {std::pair{3, 3}, std::pair{4, 5}, std::pair{1, 6}, std::pair{5, 2}}) {
    std::vector<double> w(rows * cols);
    for (double& v : w) v = u(rng);
    w[0] = 0.0;  // a hole in the footprint
    for (BorderMode mode : kAllModes) {
      SCOPED_TRACE(absl::StrCat(rows, "x", cols, " ", filters::BorderModeName(mode)));
      const Array want_f = RefConvolve(f, w, rows, cols, mode, 2.0, PixelType::kF32);
      const Array want_s = RefConvolve(s, w, rows, cols, mode, 2.0, PixelType::kI16);
      for (const RunConfig& c : SomeConfigs()) {
        SCOPED_TRACE(c.Name());
        auto got = RunMap1(c, {&f}, filters::Convolve(w, rows, cols, {mode, 2.0, std::nullopt}));
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_TRUE(SameArray(*got, want_f));
        got = RunMap1(c, {&s}, filters::Convolve(w, rows, cols, {mode, 2.0, std::nullopt}));
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_TRUE(SameArray(*got, want_s));  // int16 in, int16 out: truncated
      }
    }
  }
}

TEST(ConvolveTest, FlipsTheKernel) {
  // A one-pixel impulse convolved with an asymmetric kernel draws the kernel.
  Array in(MakeProfile(7, 7, 1, PixelType::kF64));
  in.MutableSamples<double>()[3 * 7 + 3] = 1.0;
  const std::vector<double> w = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto got = RunMap1({1, TileMode::kTiles, 0, false}, {&in}, filters::Convolve(w, 3, 3));
  ASSERT_TRUE(got.ok()) << got.status();
  auto g = got->Samples<double>();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(g[(2 + i) * 7 + (2 + j)], w[i * 3 + j]) << i << "," << j;
  }
}

TEST(ConvolveTest, RejectsABadKernelBeforeRunning) {
  auto ctx = Context::Create({});
  ASSERT_TRUE(ctx.ok());
  auto img = (*ctx)->CreateConstant(MakeProfile(8, 8, 1, PixelType::kF32));
  ASSERT_TRUE(img.ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::Convolve({1, 2, 3}, 2, 2)).ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::Convolve({}, 0, 0)).ok());
}

// ---------------------------------------------------------------------------
// Uniform

// scipy.ndimage.uniform_filter: axis 0 then axis 1, each a window sum in
// double divided by size and stored in the image's type.
template <typename T>
Array RefUniform(const Array& in, int size) {
  const Profile& p = in.profile();
  Array out(p);
  if (size == 1) return testing::CopyArray(in);
  const int before = size / 2, after = size - before - 1;
  auto s = in.Samples<T>();
  auto d = out.MutableSamples<T>();
  const int64_t plane = static_cast<int64_t>(p.width) * p.height;
  std::vector<double> line;
  std::vector<T> mid(plane);
  for (int b = 0; b < p.bands; ++b) {
    for (int x = 0; x < p.width; ++x) {
      line.assign(p.height + before + after, 0.0);
      for (int y = 0; y < p.height; ++y) line[before + y] = static_cast<double>(s[b * plane + y * p.width + x]);
      ExtendLine(line, before, after, BorderMode::kReflect, 0.0);
      for (int y = 0; y < p.height; ++y) {
        double acc = 0.0;
        for (int k = 0; k < size; ++k) acc += line[y + k];
        mid[y * p.width + x] = static_cast<T>(acc / size);
      }
    }
    for (int y = 0; y < p.height; ++y) {
      line.assign(p.width + before + after, 0.0);
      for (int x = 0; x < p.width; ++x) line[before + x] = static_cast<double>(mid[y * p.width + x]);
      ExtendLine(line, before, after, BorderMode::kReflect, 0.0);
      for (int x = 0; x < p.width; ++x) {
        double acc = 0.0;
        for (int k = 0; k < size; ++k) acc += line[x + k];
        d[b * plane + y * p.width + x] = static_cast<T>(acc / size);
      }
    }
  }
  return out;
}

TEST(UniformTest, EqualsScipysUniformFilterOverTheWholeImage) {
  const Array f = RandomArray(MakeProfile(47, 29, 2, PixelType::kF32), 31);
  const Array s = RandomArray(MakeProfile(47, 29, 1, PixelType::kI16), 32);
  const Array u = RandomArray(MakeProfile(47, 29, 1, PixelType::kU8), 33);
  const Array d = RandomArray(MakeProfile(47, 29, 1, PixelType::kF64), 34);
  for (int size : {1, 2, 3, 4, 5, 9}) {
    SCOPED_TRACE(absl::StrCat("size ", size));
    const Array wf = RefUniform<float>(f, size);
    const Array ws = RefUniform<int16_t>(s, size);
    const Array wu = RefUniform<uint8_t>(u, size);
    const Array wd = RefUniform<double>(d, size);
    for (const RunConfig& c : size == 3 ? AllConfigs() : SomeConfigs()) {
      SCOPED_TRACE(c.Name());
      for (auto [in, want] : {std::pair{&f, &wf}, std::pair{&s, &ws}, std::pair{&u, &wu}, std::pair{&d, &wd}}) {
        auto got = RunMap1(c, {in}, filters::Uniform(size));
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_TRUE(SameArray(*got, *want)) << PixelTypeName(in->profile().type);
        EXPECT_EQ(got->profile(), in->profile());
      }
    }
  }
}

TEST(UniformTest, RejectsSizeZero) {
  auto ctx = Context::Create({});
  ASSERT_TRUE(ctx.ok());
  auto img = (*ctx)->CreateConstant(MakeProfile(8, 8, 1, PixelType::kF32));
  ASSERT_TRUE(img.ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::Uniform(0)).ok());
}

}  // namespace
}  // namespace eoscale
