#include "macro_keep_all.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/logical.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/normalized_difference.h"
#include "eoscale/filters/threshold.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "macro_data.h"

namespace eoscale::bench {
namespace {

// Keeps the intermediates of the keep_all strategy and counts them.
class KeepAll {
 public:
  explicit KeepAll(Context* ctx) : ctx_(ctx) {}
  // ReadAll(image) whole, kept, and given back as an in-memory image.
  absl::StatusOr<Image> Stage(const Image& image) {
    absl::StatusOr<Array> a = ctx_->ReadAll(image);
    if (!a.ok()) return a.status();
    held_ += static_cast<int64_t>(a->bytes());
    peak_ = std::max(peak_, held_ + ctx_->last_run_stats().peak_live_bytes);
    return ctx_->FromArray(*std::move(a));
  }
  void AfterRun() { peak_ = std::max(peak_, held_ + ctx_->last_run_stats().peak_live_bytes); }
  int64_t peak() const { return peak_; }

 private:
  Context* ctx_;
  int64_t held_ = 0;
  int64_t peak_ = 0;
};

absl::StatusOr<std::vector<Image>> MapOne(Context& c, std::vector<Image> in, MapFilter f) {
  return c.Map(in, std::move(f));
}

ReduceFilter<int64_t> CountOnes() {
  ReduceFilter<int64_t> count;
  count.name = "count water";
  count.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> {
    const auto m = t.inputs[0].As<uint8_t>();
    int64_t n = 0;
    for (int y = 0; y < m.rows(); ++y) {
      const uint8_t* r = m.Row(0, y);
      for (int x = 0; x < m.cols(); ++x) n += r[x];
    }
    return n;
  };
  count.combine = [](int64_t a, int64_t b) { return a + b; };
  return count;
}

}  // namespace

absl::Status KeepAllWaterMask(const KeepAllJob& a, ChildReport* r) {
  ContextOptions o;
  o.workers = a.workers;
  o.tiling.tile_size = a.tile;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;
  KeepAll keep(&c);
  std::vector<Image> masks;
  for (const std::string& path : DatePaths(a.data, a.dates)) {
    absl::StatusOr<Image> date = c.Open(path, {2, 4});
    if (!date.ok()) return date.status();
    absl::StatusOr<Image> d = keep.Stage(*date);
    if (!d.ok()) return d.status();
    absl::StatusOr<std::vector<Image>> ndwi = MapOne(c, {*d}, filters::NormalizedDifference(1, 2, 0.001f));
    if (!ndwi.ok()) return ndwi.status();
    absl::StatusOr<Image> n = keep.Stage((*ndwi)[0]);
    if (!n.ok()) return n.status();
    absl::StatusOr<std::vector<Image>> mask = MapOne(c, {*n}, filters::Threshold(0.0));
    if (!mask.ok()) return mask.status();
    absl::StatusOr<Image> m = keep.Stage((*mask)[0]);
    if (!m.ok()) return m.status();
    masks.push_back(*m);
  }
  absl::StatusOr<std::vector<Image>> water = MapOne(c, masks, filters::LogicalAnd());
  if (!water.ok()) return water.status();
  absl::StatusOr<Image> w = keep.Stage((*water)[0]);
  if (!w.ok()) return w.status();
  absl::StatusOr<Reduction<int64_t>> count = c.Reduce<int64_t>({*w}, CountOnes());
  if (!count.ok()) return count.status();
  if (absl::Status s = c.Write(*w, a.out); !s.ok()) return s;
  if (absl::Status s = c.Run(); !s.ok()) return s;
  keep.AfterRun();
  absl::StatusOr<int64_t> n = count->Get();
  if (!n.ok()) return n.status();
  r->check[0] = static_cast<double>(*n);
  r->pixels = static_cast<int64_t>(a.size) * a.size;
  r->peak_live_bytes = keep.peak();
  return absl::OkStatus();
}

// examples::RunPipeline's graph with EOScale's memory strategy: every stage
// read whole into memory and kept until the end (no Release), then the
// three writes and the min/max.
absl::Status KeepAllPipeline(const KeepAllJob& a, ChildReport* r) {
  ContextOptions o;
  o.workers = a.workers;
  o.tiling.tile_size = a.tile;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;
  KeepAll keep(&c);
  auto stage = [&](absl::StatusOr<std::vector<Image>> v) -> absl::StatusOr<Image> {
    if (!v.ok()) return v.status();
    return keep.Stage((*v)[0]);
  };
  absl::StatusOr<Image> opened = c.Open(a.data);
  if (!opened.ok()) return opened.status();
  absl::StatusOr<Image> dsm = keep.Stage(*opened);
  if (!dsm.ok()) return dsm.status();
  absl::StatusOr<Image> mask = stage(c.Map({*dsm}, filters::NodataMask()));
  if (!mask.ok()) return mask.status();
  filters::FillNodataOptions fill;
  fill.max_search_distance = 100.0;
  absl::StatusOr<Image> filled = stage(c.Map({*dsm, *mask}, filters::FillNodata(fill)));
  if (!filled.ok()) return filled.status();
  absl::StatusOr<Image> smooth = stage(c.Map({*filled}, filters::Uniform(3)));
  if (!smooth.ok()) return smooth.status();
  absl::StatusOr<Reduction<filters::MinMaxResult>> mm = c.Reduce<filters::MinMaxResult>({*smooth}, filters::MinMax());
  if (!mm.ok()) return mm.status();
  const std::filesystem::path out(a.out);
  if (absl::Status s = c.Write(*mask, (out / "nodata_mask.tif").string()); !s.ok()) return s;
  if (absl::Status s = c.Write(*filled, (out / "filled_dsm.tif").string()); !s.ok()) return s;
  if (absl::Status s = c.Write(*smooth, (out / "smooth_dsm.tif").string()); !s.ok()) return s;
  if (absl::Status s = c.Run(); !s.ok()) return s;
  keep.AfterRun();
  absl::StatusOr<filters::MinMaxResult> v = mm->Get();
  if (!v.ok()) return v.status();
  r->check[0] = v->min;
  r->check[1] = v->max;
  r->pixels = static_cast<int64_t>(a.size) * a.size;
  r->peak_live_bytes = keep.peak();
  return absl::OkStatus();
}

}  // namespace eoscale::bench
