// Concatenate against a plain whole-image reference, for every tiling.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "eoscale/filters/concatenate.h"
#include "filters_test_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::AllConfigs;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RunConfig;
using ::eoscale::testing::RunMap1;
using ::eoscale::testing::SameArray;

Profile MakeProfile(int bands, PixelType type, std::optional<double> nodata = std::nullopt) {
  Profile p;
  p.width = 37;
  p.height = 29;
  p.bands = bands;
  p.type = type;
  p.nodata = nodata;
  p.geotransform = {10.0, 2.0, 0.0, 20.0, 0.0, -2.0};
  p.crs_wkt = "LOCAL_CS[\"test\"]";
  return p;
}

// Conversion by the reference: truncation toward zero, saturation, NaN -> 0.
template <typename Out>
Out RefConvert(double v) {
  if constexpr (std::is_floating_point_v<Out>) {
    return static_cast<Out>(v);
  } else {
    if (std::isnan(v)) return 0;
    v = std::trunc(v);
    if (v < static_cast<double>(std::numeric_limits<Out>::lowest())) return std::numeric_limits<Out>::lowest();
    if (v > static_cast<double>(std::numeric_limits<Out>::max())) return std::numeric_limits<Out>::max();
    return static_cast<Out>(v);
  }
}

Array RefConcatenate(const std::vector<const Array*>& in, PixelType out_type) {
  Profile p = in[0]->profile();
  p.type = out_type;
  p.bands = 0;
  for (const Array* a : in) p.bands += a->profile().bands;
  Array out(p);
  DispatchPixelType(out_type, [&]<typename Out>() {
    auto d = out.MutableSamples<Out>();
    size_t k = 0;
    for (const Array* a : in) {
      DispatchPixelType(a->profile().type, [&]<typename In>() {
        for (In v : a->Samples<In>()) d[k++] = RefConvert<Out>(static_cast<double>(v));
      });
    }
  });
  return out;
}

TEST(ConcatenateTest, StacksTheBandsOfEveryInputInOrder) {
  const Array a = RandomArray(MakeProfile(2, PixelType::kU8, 0.0), 1);
  const Array b = RandomArray(MakeProfile(1, PixelType::kI16), 2);
  Array c = RandomArray(MakeProfile(3, PixelType::kF32), 3);
  c.MutableSamples<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  for (PixelType t : {PixelType::kF32, PixelType::kU8, PixelType::kI32}) {
    SCOPED_TRACE(PixelTypeName(t));
    const Array want = RefConcatenate({&a, &b, &c}, t);
    for (const RunConfig& cfg : AllConfigs()) {
      SCOPED_TRACE(cfg.Name());
      auto got = RunMap1(cfg, {&a, &b, &c}, filters::Concatenate(t));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(SameArray(*got, want));
      EXPECT_EQ(got->profile().bands, 6);
      EXPECT_EQ(got->profile().geotransform, a.profile().geotransform);
      EXPECT_EQ(got->profile().crs_wkt, a.profile().crs_wkt);
      EXPECT_EQ(got->profile().nodata, a.profile().nodata);  // 0 fits every type here
    }
  }
}

}  // namespace
}  // namespace eoscale
