// libFuzzer target: the band-math expression parser and evaluator
// (filters/expression.h). Any text compiles to a filter or gives
// InvalidArgument with a message; ExpressionBands agrees with Expression on
// what compiles; a compiled filter's profile function and tile function
// then run on two small 4-band inputs (built from the input bytes) without
// crashing or undefined behaviour, and write every output pixel.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/expression.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "expression contract broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const eoscale::PixelType out_type = eoscale::kAllPixelTypes[in.ConsumeIntegralInRange<int>(0, 7)];
  const int width = in.ConsumeIntegralInRange<int>(1, 5), height = in.ConsumeIntegralInRange<int>(1, 3);
  std::vector<double> samples;
  for (int i = 0; i < 2 * 4 * width * height; ++i) {
    samples.push_back(in.ConsumeBool() ? in.ConsumeFloatingPoint<double>()
                                       : static_cast<double>(in.ConsumeIntegralInRange<int>(-3, 3)));
  }
  const std::string expr = in.ConsumeRemainingBytesAsString();

  absl::StatusOr<eoscale::MapFilter> f = eoscale::filters::Expression(expr, out_type);
  absl::StatusOr<std::vector<std::vector<int>>> bands = eoscale::filters::ExpressionBands(expr);
  if (f.ok() != bands.ok()) Fail("Expression and ExpressionBands disagree on '" + expr + "'");
  if (!f.ok()) {
    if (f.status().code() != absl::StatusCode::kInvalidArgument || f.status().message().empty()) {
      Fail("a bad expression gave " + f.status().ToString());
    }
    return 0;
  }
  std::vector<eoscale::Profile> in_profiles(2);
  std::vector<eoscale::Array> inputs;
  for (eoscale::Profile& p : in_profiles) {
    p.width = width;
    p.height = height;
    p.bands = 4;
    p.type = eoscale::PixelType::kF64;
    inputs.emplace_back(p);
  }
  for (int i = 0; i < 2; ++i) {
    auto s = inputs[i].MutableSamples<double>();
    for (size_t k = 0; k < s.size(); ++k) s[k] = samples[i * s.size() + k];
  }
  if (!f->profiles) Fail("a compiled expression has no profile function");
  absl::StatusOr<std::vector<eoscale::Profile>> outs = f->profiles(in_profiles);
  if (!outs.ok()) {
    if (outs.status().message().empty()) Fail("a profile error without a message");
    return 0;  // e.g. im3b1 with two inputs
  }
  if (outs->size() != 1 || (*outs)[0].width != width || (*outs)[0].height != height || (*outs)[0].bands != 1 ||
      (*outs)[0].type != out_type) {
    Fail("unexpected output profile for '" + expr + "'");
  }
  eoscale::Array out((*outs)[0]);
  std::vector<eoscale::ConstView> in_views = {inputs[0].view(), inputs[1].view()};
  std::vector<eoscale::View> out_views = {out.mutable_view()};
  eoscale::MapTile t;
  t.tile.window = {0, 0, width, height};
  t.inputs = in_views;
  t.input_profiles = in_profiles;
  t.outputs = out_views;
  t.output_profiles = *outs;
  const absl::Status st = f->fn(t);
  if (!st.ok() && st.message().empty()) Fail("a tile error without a message");
  return 0;
}
