#include "plain_pipeline.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/uniform.h"
#include "gdal_priv.h"

namespace eoscale::bench {
namespace {

constexpr int kBlock = 256;
constexpr int64_t kGdalCacheBytes = int64_t{16} << 20;

// Collects the first failure GDAL reports on the calling thread while in
// scope. Warnings are dropped.
class GdalErrorCapture {
 public:
  GdalErrorCapture() { CPLPushErrorHandlerEx(&Handler, this); }
  ~GdalErrorCapture() { CPLPopErrorHandler(); }
  GdalErrorCapture(const GdalErrorCapture&) = delete;
  GdalErrorCapture& operator=(const GdalErrorCapture&) = delete;
  bool failed() const { return failed_; }
  std::string message() const { return message_.empty() ? "unknown GDAL error" : message_; }

 private:
  static void CPL_STDCALL Handler(CPLErr cls, CPLErrorNum, const char* msg) {
    auto* self = static_cast<GdalErrorCapture*>(CPLGetErrorHandlerUserData());
    if (cls >= CE_Failure && !self->failed_) {
      self->failed_ = true;
      self->message_ = msg != nullptr ? msg : "";
    }
  }
  bool failed_ = false;
  std::string message_;
};

class ScopedGdalCacheMax {
 public:
  explicit ScopedGdalCacheMax(int64_t bytes) : saved_(GDALGetCacheMax64()) { GDALSetCacheMax64(bytes); }
  ~ScopedGdalCacheMax() { GDALSetCacheMax64(saved_); }
  ScopedGdalCacheMax(const ScopedGdalCacheMax&) = delete;
  ScopedGdalCacheMax& operator=(const ScopedGdalCacheMax&) = delete;

 private:
  int64_t saved_;
};

std::unique_ptr<GDALDataset> OpenInput(const std::string& path) {
  const char* const drivers[] = {"GTiff", "VRT", nullptr};  // VRT: jp2 stacks and mosaics (macro_benchmark)
  return std::unique_ptr<GDALDataset>(
      GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, drivers, nullptr, nullptr));
}

Tile TileOf(int index, int width, int y0, int y1, int read_y0, int read_y1) {
  Tile t;
  t.index = index;
  t.window = {0, y0, width, y1 - y0};
  t.top = y0 - read_y0;
  t.bottom = read_y1 - y1;
  return t;
}

// State shared by the workers of one run.
class Run {
 public:
  // outputs: the mask, filled and smooth datasets.
  Run(const std::string& input, std::array<GDALDataset*, 3> outputs, const Profile& profile,
      const PipelineParams& params, int strip_rows)
      : input_(input),
        outputs_(outputs),
        profile_(profile),
        strip_rows_(strip_rows),
        strips_((profile.height + strip_rows - 1) / strip_rows),
        blocks_x_((profile.width + kBlock - 1) / kBlock),
        mask_(filters::NodataMask()),
        fill_(filters::FillNodata({.max_search_distance = params.max_search_distance})),
        uniform_(filters::Uniform(params.uniform_size)),
        min_max_(filters::MinMax()),
        partials_(strips_) {}

  absl::Status Plan() {
    absl::StatusOr<std::vector<Profile>> m = mask_.profiles({profile_});
    if (!m.ok()) return m.status();
    mask_profile_ = (*m)[0];
    absl::StatusOr<std::vector<Profile>> f = fill_.profiles({profile_, mask_profile_});
    if (!f.ok()) return f.status();
    fill_profile_ = (*f)[0];
    absl::StatusOr<std::vector<Profile>> u = uniform_.profiles({fill_profile_});
    if (!u.ok()) return u.status();
    out_profile_ = (*u)[0];
    if (out_profile_.type != PixelType::kF32) return absl::InternalError("uniform changed the pixel type");
    return absl::OkStatus();
  }

  // Bytes of one worker's buffers.
  int64_t WorkerBytes() const {
    const int64_t w = profile_.width;
    const int64_t read_rows = strip_rows_ + 2 * (fill_.margin + uniform_.margin);
    const int64_t fill_rows = strip_rows_ + 2 * uniform_.margin;
    return read_rows * w * 4 + read_rows * w + fill_rows * w * 4 + int64_t{strip_rows_} * w * 4 +
           int64_t{blocks_x_} * kBlock * strip_rows_ * 4;  // the last: one output's blocks
  }

  void Work() {
    GdalErrorCapture capture;
    std::unique_ptr<GDALDataset> in = OpenInput(input_);
    if (in == nullptr) return Fail(absl::NotFoundError(absl::StrCat("cannot open '", input_, "': ", capture.message())));
    const int w = profile_.width, h = profile_.height;
    const int fill_margin = fill_.margin, uni_margin = uniform_.margin;
    const size_t read_cap = static_cast<size_t>(strip_rows_ + 2 * (fill_margin + uni_margin)) * w;
    std::vector<float> dsm(read_cap);
    std::vector<uint8_t> mask(read_cap);
    std::vector<float> filled(static_cast<size_t>(strip_rows_ + 2 * uni_margin) * w);
    std::vector<float> smooth(static_cast<size_t>(strip_rows_) * w);
    std::vector<std::byte> blocks(static_cast<size_t>(blocks_x_) * kBlock * strip_rows_ * sizeof(float));
    for (;;) {
      const int strip = next_strip_.fetch_add(1);
      if (strip >= strips_ || failed_.load(std::memory_order_relaxed)) break;
      const int y0 = strip * strip_rows_, y1 = std::min(h, y0 + strip_rows_);
      const int fy0 = std::max(0, y0 - uni_margin), fy1 = std::min(h, y1 + uni_margin);
      const int ry0 = std::max(0, fy0 - fill_margin), ry1 = std::min(h, fy1 + fill_margin);
      if (in->GetRasterBand(1)->RasterIO(GF_Read, 0, ry0, w, ry1 - ry0, dsm.data(), w, ry1 - ry0, GDT_Float32, 0,
                                         0, nullptr) != CE_None) {
        return Fail(absl::DataLossError(
            absl::StrCat("cannot read rows ", ry0, "..", ry1 - 1, " of '", input_, "': ", capture.message())));
      }
      const Window rwin{0, ry0, w, ry1 - ry0}, fwin{0, fy0, w, fy1 - fy0}, swin{0, y0, w, y1 - y0};
      const ConstView dsm_view = ConstView::Contiguous(dsm.data(), PixelType::kF32, 1, rwin);
      const View mask_view = View::Contiguous(mask.data(), PixelType::kU8, 1, rwin);
      const View fill_view = View::Contiguous(filled.data(), PixelType::kF32, 1, fwin);
      const View smooth_view = View::Contiguous(smooth.data(), PixelType::kF32, 1, swin);
      absl::Status st = Apply(mask_, TileOf(strip, w, ry0, ry1, ry0, ry1), {dsm_view}, {profile_}, mask_view,
                              mask_profile_);
      if (st.ok()) {
        st = Apply(fill_, TileOf(strip, w, fy0, fy1, ry0, ry1), {dsm_view, mask_view}, {profile_, mask_profile_},
                   fill_view, fill_profile_);
      }
      if (st.ok()) {
        st = Apply(uniform_, TileOf(strip, w, y0, y1, fy0, fy1), {fill_view}, {fill_profile_}, smooth_view,
                   out_profile_);
      }
      if (st.ok()) {
        const ConstView in_views[] = {smooth_view};
        const Profile in_profiles[] = {out_profile_};
        absl::StatusOr<filters::MinMaxResult> mm =
            min_max_.map(ReduceTile{TileOf(strip, w, y0, y1, y0, y1), in_views, in_profiles});
        if (mm.ok()) {
          partials_[strip] = *mm;  // each strip written by one worker, read after the join
        } else {
          st = mm.status();
        }
      }
      if (!st.ok()) return Fail(absl::Status(st.code(), absl::StrCat("strip ", strip, ": ", st.message())));
      // Rows [y0, y1) of the three outputs.
      const int rows = y1 - y0;
      const std::byte* firsts[3] = {
          reinterpret_cast<const std::byte*>(mask.data()) + static_cast<size_t>(y0 - ry0) * w,
          reinterpret_cast<const std::byte*>(filled.data()) + static_cast<size_t>(y0 - fy0) * w * sizeof(float),
          reinterpret_cast<const std::byte*>(smooth.data())};
      const size_t pixel_sizes[3] = {1, sizeof(float), sizeof(float)};
      for (int o = 0; o < 3; ++o) {
        ToBlocks(firsts[o], pixel_sizes[o], rows, blocks.data());
        if (!WriteStrip(o, y0 / kBlock, (rows + kBlock - 1) / kBlock, blocks.data(), pixel_sizes[o], capture)) return;
      }
    }
  }

  absl::Status status() const {
    std::lock_guard<std::mutex> lock(error_mu_);
    return first_error_;
  }
  filters::MinMaxResult Fold() const {
    filters::MinMaxResult r = *partials_[0];
    for (int s = 1; s < strips_; ++s) r = min_max_.combine(r, *partials_[s]);
    return r;
  }
  const Profile& mask_profile() const { return mask_profile_; }
  const Profile& fill_profile() const { return fill_profile_; }
  const Profile& out_profile() const { return out_profile_; }

 private:
  static absl::Status Apply(const MapFilter& f, const Tile& tile, std::initializer_list<ConstView> inputs,
                            std::initializer_list<Profile> input_profiles, const View& output,
                            const Profile& output_profile) {
    const std::vector<ConstView> ins(inputs);
    const std::vector<Profile> in_profiles(input_profiles);
    const View outs[] = {output};
    const Profile out_profiles[] = {output_profile};
    return f.fn(MapTile{tile, ins, in_profiles, outs, out_profiles});
  }

  // Copies `rows` full-width rows starting at `first` into block layout
  // [block row][block x][row][col] (edges padded with zeros).
  void ToBlocks(const std::byte* first, size_t pixel_size, int rows, std::byte* blocks) const {
    const int w = profile_.width;
    std::fill(blocks, blocks + static_cast<size_t>(blocks_x_) * kBlock * ((rows + kBlock - 1) / kBlock * kBlock) * pixel_size,
              std::byte{0});
    for (int r = 0; r < rows; ++r) {
      const std::byte* src = first + static_cast<size_t>(r) * w * pixel_size;
      for (int bx = 0; bx < blocks_x_; ++bx) {
        const int cols = std::min(kBlock, w - bx * kBlock);
        std::byte* dst =
            blocks + ((static_cast<size_t>(r / kBlock) * blocks_x_ + bx) * kBlock + r % kBlock) * kBlock * pixel_size;
        std::copy_n(src + static_cast<size_t>(bx) * kBlock * pixel_size, cols * pixel_size, dst);
      }
    }
  }

  // The one writer: whole blocks straight to the file (no block cache).
  bool WriteStrip(int output, int block_row, int block_rows, std::byte* blocks, size_t pixel_size,
                  const GdalErrorCapture& capture) {
    std::lock_guard<std::mutex> lock(write_mu_);
    GDALRasterBand* out = outputs_[output]->GetRasterBand(1);
    for (int r = 0; r < block_rows; ++r) {
      for (int bx = 0; bx < blocks_x_; ++bx) {
        std::byte* block = blocks + (static_cast<size_t>(r) * blocks_x_ + bx) * kBlock * kBlock * pixel_size;
        if (out->WriteBlock(bx, block_row + r, block) != CE_None) {
          Fail(absl::UnavailableError(absl::StrCat("cannot write block (", bx, ", ", block_row + r, ") of '",
                                                   outputs_[output]->GetDescription(), "': ", capture.message())));
          return false;
        }
      }
    }
    return true;
  }

  void Fail(absl::Status status) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (first_error_.ok()) first_error_ = std::move(status);
    failed_.store(true);
  }

  const std::string input_;
  const std::array<GDALDataset*, 3> outputs_;  // written under write_mu_ only
  const Profile profile_;
  const int strip_rows_;
  const int strips_;
  const int blocks_x_;
  const MapFilter mask_, fill_, uniform_;
  const ReduceFilter<filters::MinMaxResult> min_max_;
  Profile mask_profile_, fill_profile_, out_profile_;
  std::vector<std::optional<filters::MinMaxResult>> partials_;
  std::atomic<int> next_strip_{0};
  std::atomic<bool> failed_{false};
  std::mutex write_mu_;
  mutable std::mutex error_mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(error_mu_);
};

}  // namespace

absl::StatusOr<PlainPipelineResult> RunPlainPipeline(const std::string& input, const std::string& outdir,
                                                     int workers, const PipelineParams& params, int strip_rows) {
  if (workers < 1) return absl::InvalidArgumentError(absl::StrCat("RunPlainPipeline: workers ", workers, " < 1"));
  if (strip_rows <= 0 || strip_rows % kBlock != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunPlainPipeline: strip_rows ", strip_rows, " is not a positive multiple of ", kBlock));
  }
  GDALAllRegister();
  ScopedGdalCacheMax cache(kGdalCacheBytes);
  GdalErrorCapture capture;
  std::unique_ptr<GDALDataset> in = OpenInput(input);
  if (in == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", input, "': ", capture.message()));
  if (in->GetRasterCount() != 1 || in->GetRasterBand(1)->GetRasterDataType() != GDT_Float32) {
    return absl::InvalidArgumentError(absl::StrCat("'", input, "' is not a single-band float32 raster"));
  }
  Profile profile;
  profile.width = in->GetRasterXSize();
  profile.height = in->GetRasterYSize();
  profile.type = PixelType::kF32;
  int has_nodata = 0;
  const double nodata = in->GetRasterBand(1)->GetNoDataValue(&has_nodata);
  if (has_nodata) profile.nodata = nodata;
  double gt[6];
  const bool has_gt = in->GetGeoTransform(gt) == CE_None;
  std::unique_ptr<OGRSpatialReference> srs;
  if (const OGRSpatialReference* s = in->GetSpatialRef(); s != nullptr) srs.reset(s->Clone());
  in.reset();

  // Profiles first (they come from the filters), then the three outputs.
  Run probe(input, {}, profile, params, strip_rows);
  if (absl::Status s = probe.Plan(); !s.ok()) return s;
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (driver == nullptr) return absl::InternalError("GDAL has no GTiff driver");
  CPLStringList options;
  options.SetNameValue("TILED", "YES");
  options.SetNameValue("BLOCKXSIZE", "256");
  options.SetNameValue("BLOCKYSIZE", "256");
  options.SetNameValue("BIGTIFF", "IF_NEEDED");
  const char* const names[3] = {"nodata_mask.tif", "filled_dsm.tif", "smooth_dsm.tif"};
  const Profile* profiles[3] = {&probe.mask_profile(), &probe.fill_profile(), &probe.out_profile()};
  std::array<std::unique_ptr<GDALDataset>, 3> outs;
  for (int o = 0; o < 3; ++o) {
    const std::string path = (std::filesystem::path(outdir) / names[o]).string();
    const GDALDataType type = profiles[o]->type == PixelType::kU8 ? GDT_Byte : GDT_Float32;
    outs[o].reset(driver->Create(path.c_str(), profile.width, profile.height, 1, type, options.List()));
    if (outs[o] == nullptr) return absl::UnavailableError(absl::StrCat("cannot create '", path, "': ", capture.message()));
    if (has_gt) outs[o]->SetGeoTransform(gt);
    if (srs != nullptr) outs[o]->SetSpatialRef(srs.get());
    if (profiles[o]->nodata) outs[o]->GetRasterBand(1)->SetNoDataValue(*profiles[o]->nodata);
  }

  Run run(input, {outs[0].get(), outs[1].get(), outs[2].get()}, profile, params, strip_rows);
  if (absl::Status s = run.Plan(); !s.ok()) return s;
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back([&run] { run.Work(); });
  for (std::thread& t : threads) t.join();
  for (auto& o : outs) o.reset();  // closes: writes the TIFF directories
  if (absl::Status s = run.status(); !s.ok()) return s;
  if (capture.failed()) return absl::UnavailableError(absl::StrCat("cannot write into '", outdir, "': ", capture.message()));
  const filters::MinMaxResult mm = run.Fold();
  PlainPipelineResult r;
  r.min = mm.min;
  r.max = mm.max;
  r.pixels = static_cast<int64_t>(profile.width) * profile.height;
  r.buffer_bytes = run.WorkerBytes() * workers;
  return r;
}

}  // namespace eoscale::bench
