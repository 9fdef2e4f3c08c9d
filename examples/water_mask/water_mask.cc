#include "water_mask.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/core/row_loop.h"
#include "eoscale/core/view.h"
#include "eoscale/graph/context.h"

namespace eoscale::examples {
namespace {

// One row of NDWI from bands G and NIR of any numeric pixel type, read as
// float32 (so uint16, int16 and float32 inputs of the same values give the
// same NDWI bit for bit).
template <typename T>
EOSCALE_ROW_LOOP void NdwiRow(const T* __restrict g, const T* __restrict nir, float* __restrict o, int n) {
  for (int x = 0; x < n; ++x) {
    const float gf = static_cast<float>(g[x]), nf = static_cast<float>(nir[x]);
    o[x] = (gf - nf) / (gf + nf + 0.001f);
  }
}

template <typename T>
void NdwiTile(const ConstView& in_view, const View& out_view) {
  const auto in = in_view.As<T>();
  const auto out = out_view.As<float>();
  for (int y = 0; y < out.rows(); ++y) NdwiRow<T>(in.Row(0, y), in.Row(1, y), out.Row(0, y), out.cols());
}

// The pixels of a row above `threshold`: 1, else 0.
EOSCALE_ROW_LOOP void ThresholdRow(const float* __restrict a, float threshold, uint8_t* __restrict o, int n) {
  for (int x = 0; x < n; ++x) o[x] = a[x] > threshold ? 1 : 0;
}

// NDWI = (G - NIR) / (G + NIR + 0.001), float32, from a 2-band (G, NIR)
// image of any pixel type.
MapFilter Ndwi() {
  MapFilter f;
  f.name = "ndwi";
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.bands = 1;
    p.type = PixelType::kF32;
    p.nodata.reset();
    return std::vector<Profile>{p};
  };
  f.fn = [](const MapTile& t) {
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() { NdwiTile<T>(t.inputs[0], t.outputs[0]); });
    return absl::OkStatus();
  };
  return f;
}

// 1 where the image is > threshold, as uint8.
MapFilter Threshold(float threshold) {
  MapFilter f;
  f.name = "threshold";
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.type = PixelType::kU8;
    return std::vector<Profile>{p};
  };
  f.fn = [threshold](const MapTile& t) {
    const auto in = t.inputs[0].As<float>();
    const auto out = t.outputs[0].As<uint8_t>();
    for (int y = 0; y < out.rows(); ++y) ThresholdRow(in.Row(0, y), threshold, out.Row(0, y), out.cols());
    return absl::OkStatus();
  };
  return f;
}

// Logical AND of N uint8 masks.
MapFilter LogicalAnd() {
  MapFilter f;
  f.name = "and";
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    return std::vector<Profile>{in[0]};
  };
  f.fn = [](const MapTile& t) {
    const auto out = t.outputs[0].As<uint8_t>();
    for (int y = 0; y < out.rows(); ++y) {
      uint8_t* o = out.Row(0, y);
      const uint8_t* a = t.inputs[0].As<uint8_t>().Row(0, y);
      for (int x = 0; x < out.cols(); ++x) o[x] = a[x];
      for (size_t i = 1; i < t.inputs.size(); ++i) {
        const uint8_t* b = t.inputs[i].As<uint8_t>().Row(0, y);
        for (int x = 0; x < out.cols(); ++x) o[x] &= b[x];
      }
    }
    return absl::OkStatus();
  };
  return f;
}

}  // namespace

absl::StatusOr<WaterMaskResult> RunWaterMask(const std::vector<std::string>& inputs, const std::string& output,
                                             const WaterMaskOptions& options) {
  if (inputs.empty()) return absl::InvalidArgumentError("water mask: no input image");
  ContextOptions co;
  co.workers = options.workers;
  co.tiling = options.tiling;
  co.memory_budget_bytes = options.memory_budget_bytes;
  co.progress = options.progress;
  co.trace = !options.trace_path.empty();
  co.distribution = options.distribution;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(co);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;

  std::vector<Image> masks;
  for (const std::string& path : inputs) {
    absl::StatusOr<Image> date = c.Open(path, {2, 4});  // G and NIR only
    if (absl::IsInvalidArgument(date.status())) {
      return absl::InvalidArgumentError(absl::StrCat(date.status().message(),
                                                     "; the water mask reads band 2 (green) and band 4 "
                                                     "(near infrared) of each date"));
    }
    if (!date.ok()) return date.status();
    absl::StatusOr<std::vector<Image>> ndwi = c.Map({*date}, Ndwi());
    if (!ndwi.ok()) return ndwi.status();
    absl::StatusOr<std::vector<Image>> mask = c.Map(*ndwi, Threshold(0.0f));
    if (!mask.ok()) return mask.status();
    masks.push_back((*mask)[0]);
  }
  absl::StatusOr<std::vector<Image>> water = c.Map(masks, LogicalAnd());
  if (!water.ok()) return water.status();

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
  absl::StatusOr<Reduction<int64_t>> water_pixels = c.Reduce<int64_t>(*water, count);
  if (!water_pixels.ok()) return water_pixels.status();

  WriteOptions write;
  write.creation_options = options.writer_options;
  write.durable = options.durable;
  if (absl::Status s = c.Write((*water)[0], output, write); !s.ok()) return s;
  if (absl::Status s = c.Run(); !s.ok()) return s;  // the write and the count, in one pass
  // A distributed run: rank 0 writes the graph and trace of the whole job (gathered there).
  const bool first_rank = options.distribution == nullptr || options.distribution->rank() == 0;
  if (!options.dot_path.empty() && first_rank) {
    if (absl::Status s = c.WriteDot(options.dot_path); !s.ok()) return s;
  }
  if (!options.trace_path.empty() && first_rank) {
    if (absl::Status s = c.WriteTrace(options.trace_path); !s.ok()) return s;
  }

  WaterMaskResult r;
  absl::StatusOr<int64_t> n = water_pixels->Get();
  if (!n.ok()) return n.status();
  r.water_pixels = *n;
  const Profile p = *(*water)[0].profile();
  r.pixels = static_cast<int64_t>(p.width) * p.height;
  r.stats = c.last_run_stats();
  return r;
}

}  // namespace eoscale::examples
