// Builds a constant image, doubles it with a Map, sums it with a Reduce.
#include <cstdio>

#include <eoscale/graph/context.h>

int main() {
  auto ctx = eoscale::Context::Create({.workers = 2});
  if (!ctx.ok()) return 1;
  eoscale::Profile p;
  p.width = 300;
  p.height = 200;
  p.type = eoscale::PixelType::kI32;
  auto img = (*ctx)->CreateConstant(p, 21);
  eoscale::MapFilter twice;
  twice.name = "twice";
  twice.fn = [](const eoscale::MapTile& t) {
    auto in = t.inputs[0].As<int32_t>();
    auto out = t.outputs[0].As<int32_t>();
    for (int y = 0; y < out.rows(); ++y)
      for (int x = 0; x < out.cols(); ++x) out(0, y, x) = 2 * in(0, y, x);
    return absl::OkStatus();
  };
  auto doubled = (*ctx)->Map({*img}, twice);
  if (!doubled.ok()) return 1;
  eoscale::ReduceFilter<long long> sum;
  sum.map = [](const eoscale::ReduceTile& t) -> absl::StatusOr<long long> {
    auto v = t.inputs[0].As<int32_t>();
    long long s = 0;
    for (int y = 0; y < v.rows(); ++y)
      for (int x = 0; x < v.cols(); ++x) s += v(0, y, x);
    return s;
  };
  sum.combine = [](long long a, long long b) { return a + b; };
  auto r = (*ctx)->Reduce<long long>(*doubled, sum);
  if (!r.ok()) return 1;
  auto v = r->Get();
  if (!v.ok() || *v != 42LL * 300 * 200) {
    std::fprintf(stderr, "wrong sum\n");
    return 1;
  }
  std::printf("consumer ok: %lld\n", *v);
  return 0;
}
