#include "s2_like.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <numbers>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "gdal_priv.h"
#include "ogr_spatialref.h"
#include "tbb/parallel_pipeline.h"
#include "tbb/task_arena.h"
#include "eoscale/graph/tsan_annotations.h"

namespace eoscale::examples {
namespace {

using internal::TsanAcquire;
using internal::TsanOpaque;
using internal::TsanRelease;

constexpr int kBlock = 256;
constexpr int kBands = 4;  // B, G, R, NIR
constexpr int kEpsg = 32630;
constexpr double kGeoTransform[6] = {399960.0, 10.0, 0.0, 5000040.0, 0.0, -10.0};
constexpr char kMarkerKey[] = "EOSCALE_S2_LIKE";
// Bump when the generated content changes, so stale cached files are redone.
constexpr int kVersion = 1;

// Collects the first failure GDAL reports on the calling thread while in
// scope (GDAL's handler stack is per thread). Warnings are dropped.
// TODO: use io/'s scoped handler once that layer exists.
class GdalErrorCapture {
 public:
  GdalErrorCapture() { CPLPushErrorHandlerEx(&Handler, this); }
  ~GdalErrorCapture() { CPLPopErrorHandler(); }
  GdalErrorCapture(const GdalErrorCapture&) = delete;
  GdalErrorCapture& operator=(const GdalErrorCapture&) = delete;

  bool failed() const { return failed_; }
  // "" when GDAL said nothing.
  const std::string& message() const { return message_; }

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

std::string GdalSays(const GdalErrorCapture& capture) {
  return capture.message().empty() ? std::string("unknown GDAL error") : capture.message();
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Uniform(uint64_t& state) {  // [0, 1)
  return static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-53;
}

// A 32-bit integer mixer (Chris Wellons' lowbias32). Vectorizes.
inline uint32_t Hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352DU;
  x ^= x >> 15;
  x *= 0x846CA68BU;
  x ^= x >> 16;
  return x;
}

// A sum of plane waves amp * cos(kx * x + ky * y + phase), evaluated row by
// row through the separable form cos(kx x) cos(ky y + phase) -
// sin(kx x) sin(ky y + phase): per pixel, two multiply-adds per wave.
class WaveField {
 public:
  // `count` waves with wavelengths log-uniform in [min_wavelength,
  // max_wavelength] pixels, random directions and phases, amplitudes growing
  // as sqrt(wavelength) (larger features dominate) and scaled so the field's
  // standard deviation is `stddev`.
  WaveField(int size, int count, double min_wavelength, double max_wavelength, double stddev,
            uint64_t rng_state)
      : size_(size) {
    std::vector<double> wavelengths(count);
    double weight_sum = 0;
    for (int i = 0; i < count; ++i) {
      wavelengths[i] =
          min_wavelength * std::pow(max_wavelength / min_wavelength, Uniform(rng_state));
      weight_sum += wavelengths[i];
    }
    cos_x_.resize(static_cast<size_t>(count) * size);
    sin_x_.resize(static_cast<size_t>(count) * size);
    for (int i = 0; i < count; ++i) {
      const double angle = 2 * std::numbers::pi * Uniform(rng_state);
      const double k = 2 * std::numbers::pi / wavelengths[i];
      // Variance of a * cos(.) is a^2 / 2.
      const double amp = stddev * std::sqrt(2 * wavelengths[i] / weight_sum);
      const double kx = k * std::cos(angle);
      ky_.push_back(k * std::sin(angle));
      phase_.push_back(2 * std::numbers::pi * Uniform(rng_state));
      for (int x = 0; x < size; ++x) {
        cos_x_[static_cast<size_t>(i) * size + x] = static_cast<float>(amp * std::cos(kx * x));
        sin_x_[static_cast<size_t>(i) * size + x] = static_cast<float>(amp * std::sin(kx * x));
      }
    }
  }

  // row[x] += field(x, y) for x in [0, size).
  void AddRow(int y, float* row) const {
    for (size_t i = 0; i < ky_.size(); ++i) {
      const double a = ky_[i] * y + phase_[i];
      const float cy = static_cast<float>(std::cos(a));
      const float sy = static_cast<float>(std::sin(a));
      const float* cx = cos_x_.data() + i * size_;
      const float* sx = sin_x_.data() + i * size_;
      for (int x = 0; x < size_; ++x) row[x] += cy * cx[x] - sy * sx[x];
    }
  }

 private:
  int size_;
  std::vector<double> ky_;
  std::vector<double> phase_;
  std::vector<float> cos_x_;  // [wave][x], amplitude folded in
  std::vector<float> sin_x_;
};

uint64_t RngState(uint32_t seed, uint64_t stream) {
  uint64_t s = (static_cast<uint64_t>(seed) << 32) ^ (stream * 0xD1B54A32D192ED03ULL);
  SplitMix64(s);
  return s;
}

// Everything that defines one date's image. Immutable after construction;
// FillBlockRow may run concurrently on many threads.
class DateGenerator {
 public:
  DateGenerator(int size, int date, uint32_t seed)
      : size_(size),
        blocks_x_((size + kBlock - 1) / kBlock),
        // Shared by all dates: lakes, and vegetation.
        lakes_(size, 12, 300, 3000, 1.0, RngState(seed, 1)),
        vegetation_(size, 10, 60, 800, 1.0, RngState(seed, 2)),
        // Per date: small local changes of the shore.
        lakes_change_(size, 3, 150, 600, 0.15, RngState(seed, 1000 + date)) {
    uint64_t rng = RngState(seed, 2000 + date);
    // Water level: the threshold on the lake field (about 15% of land is lake).
    level_ = static_cast<float>(1.0 + 0.1 * (Uniform(rng) - 0.5));
    river_half_width_change_ = static_cast<float>(8.0 * (Uniform(rng) - 0.5));
    greenness_ = static_cast<float>(0.85 + 0.3 * Uniform(rng));
    noise_key_ = Hash32(Hash32(seed ^ 0xA5A5A5A5U) + static_cast<uint32_t>(date) * 0x9E3779B9U);
    // The river does not depend on the date except for its width.
    uint64_t river = RngState(seed, 3);
    river_x0_ = size * (0.25 + 0.1 * Uniform(river));
    river_amp1_ = size * 0.06;
    river_period1_ = std::max(1000.0, size * 0.9);
    river_phase1_ = 2 * std::numbers::pi * Uniform(river);
    river_amp2_ = 30;
    river_period2_ = 700;
    river_phase2_ = 2 * std::numbers::pi * Uniform(river);
    river_phase3_ = 2 * std::numbers::pi * Uniform(river);
  }

  int blocks_x() const { return blocks_x_; }
  size_t BlockRowElements() const {
    return static_cast<size_t>(kBands) * blocks_x_ * kBlock * kBlock;
  }

  // Writes the block row `block_row` into `out` in block layout
  // [band][block_x][row][column] (BlockRowElements() values). Pixels outside
  // the image (padding of the last blocks) are zero.
  void FillBlockRow(int block_row, int16_t* out) const {
    const int y0 = block_row * kBlock;
    const int rows = std::min(kBlock, size_ - y0);
    std::vector<float> lake(size_);
    std::vector<float> veg(size_);
    std::vector<int16_t> band_rows(static_cast<size_t>(kBands) * size_);
    for (int r = 0; r < rows; ++r) {
      const int y = y0 + r;
      std::fill(lake.begin(), lake.end(), -level_);
      std::fill(veg.begin(), veg.end(), 0.0f);
      lakes_.AddRow(y, lake.data());
      lakes_change_.AddRow(y, lake.data());
      vegetation_.AddRow(y, veg.data());
      FillRow(y, lake.data(), veg.data(), band_rows.data());
      for (int b = 0; b < kBands; ++b) {
        for (int bx = 0; bx < blocks_x_; ++bx) {
          const int n = std::min(kBlock, size_ - bx * kBlock);
          int16_t* dst = out + ((static_cast<size_t>(b) * blocks_x_ + bx) * kBlock + r) * kBlock;
          std::memcpy(dst, band_rows.data() + static_cast<size_t>(b) * size_ + bx * kBlock,
                      n * sizeof(int16_t));
          std::fill(dst + n, dst + kBlock, int16_t{0});
        }
      }
    }
    for (int r = rows; r < kBlock; ++r) {
      for (int b = 0; b < kBands; ++b) {
        for (int bx = 0; bx < blocks_x_; ++bx) {
          int16_t* dst = out + ((static_cast<size_t>(b) * blocks_x_ + bx) * kBlock + r) * kBlock;
          std::fill(dst, dst + kBlock, int16_t{0});
        }
      }
    }
  }

 private:
  // lake: lake field minus the water level (> 0 is lake); veg: vegetation
  // field. Writes the four bands of row y to out[band * size + x].
  void FillRow(int y, const float* lake, const float* veg, int16_t* out) const {
    const double two_pi = 2 * std::numbers::pi;
    const float river_x = static_cast<float>(
        river_x0_ + river_amp1_ * std::sin(two_pi * y / river_period1_ + river_phase1_) +
        river_amp2_ * std::sin(two_pi * y / river_period2_ + river_phase2_));
    const float river_half_width = static_cast<float>(
        20.0 + 6.0 * std::sin(two_pi * y / 1300.0 + river_phase3_) + river_half_width_change_);
    const uint32_t row_key = Hash32(noise_key_ ^ static_cast<uint32_t>(y) * 0x85EBCA6BU);
    int16_t* out_b = out;
    int16_t* out_g = out + size_;
    int16_t* out_r = out + 2 * static_cast<size_t>(size_);
    int16_t* out_n = out + 3 * static_cast<size_t>(size_);
    for (int x = 0; x < size_; ++x) {
      // Signed "wetness": > 0 inside a lake or the river, in lake-field units.
      const float river = (river_half_width - std::fabs(static_cast<float>(x) - river_x)) * 0.02f;
      const float wet = std::max(lake[x], river);
      // Fraction of the pixel covered by water: mixed pixels along the shores.
      const float f = std::min(1.0f, std::max(0.0f, 0.5f + 6.0f * wet));
      // 0 = bare soil, 1 = dense vegetation.
      const float v = std::min(1.0f, std::max(0.0f, (0.5f + 0.3f * veg[x]) * greenness_));
      const float land_b = 900.0f - 500.0f * v;
      const float land_g = 1100.0f - 400.0f * v;
      const float land_r = 1400.0f - 1000.0f * v;
      const float land_n = 2000.0f + 2000.0f * v;
      const float g = 1.0f - f;
      const uint32_t h = Hash32(row_key + static_cast<uint32_t>(x) * 0x27D4EB2FU);
      const float nb = static_cast<float>(static_cast<int>(h & 0xFFU) - 128);
      const float ng = static_cast<float>(static_cast<int>((h >> 8) & 0xFFU) - 128);
      const float nr = static_cast<float>(static_cast<int>((h >> 16) & 0xFFU) - 128);
      const float nn = static_cast<float>(static_cast<int>(h >> 24) - 128);
      out_b[x] = ToReflectance(f * 800.0f + g * land_b + nb);
      out_g[x] = ToReflectance(f * 900.0f + g * land_g + ng);
      out_r[x] = ToReflectance(f * 500.0f + g * land_r + nr);
      out_n[x] = ToReflectance(f * 150.0f + g * land_n + nn);
    }
  }

  static int16_t ToReflectance(float v) {
    return static_cast<int16_t>(std::min(10000.0f, std::max(0.0f, v)) + 0.5f);
  }

  int size_;
  int blocks_x_;
  WaveField lakes_;
  WaveField vegetation_;
  WaveField lakes_change_;
  float level_ = 0;
  float river_half_width_change_ = 0;
  float greenness_ = 1;
  uint32_t noise_key_ = 0;
  double river_x0_ = 0;
  double river_amp1_ = 0;
  double river_period1_ = 1;
  double river_phase1_ = 0;
  double river_amp2_ = 0;
  double river_period2_ = 1;
  double river_phase2_ = 0;
  double river_phase3_ = 0;
};

std::string Marker(int size, int date, uint32_t seed) {
  return absl::StrFormat("s2_like v%d seed=%u size=%d date=%d", kVersion, seed, size, date);
}

// True when `path` is a complete file of this generator for these parameters
// (a final name only ever holds a renamed, complete file).
bool IsCompleteDate(const std::string& path, int size, int date, uint32_t seed) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  GdalErrorCapture quiet;
  const char* const drivers[] = {"GTiff", nullptr};
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY,
                                                    drivers, nullptr, nullptr));
  if (ds == nullptr) return false;
  if (ds->GetRasterXSize() != size || ds->GetRasterYSize() != size ||
      ds->GetRasterCount() != kBands || ds->GetRasterBand(1)->GetRasterDataType() != GDT_Int16) {
    return false;
  }
  const char* marker = ds->GetMetadataItem(kMarkerKey);
  return marker != nullptr && Marker(size, date, seed) == marker;
}

struct BlockRow {
  int index = 0;
  std::vector<int16_t> data;
};

// TSan (eoscale/graph/tsan_annotations.h): Debian's libtbb is not built
// with TSan, so the ordering parallel_pipeline guarantees is stated here: the
// set-up happens before any filter runs (a static sync object: a filter
// cannot reach a per-run one before reading its own fields), a row handed
// from one filter to the next is published by the first, the calls of each
// serial filter are ordered, and every call happens before
// parallel_pipeline returns.
char pipeline_started = 0;

// The state shared by the three filters of WriteDate's pipeline.
struct RowPipeline {
  RowPipeline(const DateGenerator& g, GDALDataset* o, int rows) : gen(g), out(o), blocks_y(rows) {}

  const DateGenerator& gen;
  GDALDataset* const out;
  const int blocks_y;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<BlockRow>> pool;  // guarded by pool_mu
  std::atomic<bool> failed{false};
  std::string write_error;  // set once by the serial writer
  int next_row = 0;         // touched by the serial input filter only
  char take_sync = 0, write_sync = 0, done_sync = 0;  // TSan only

  // Serial, in order: the next row of blocks, or stop.
  struct Take {
    RowPipeline* state;
    BlockRow* operator()(tbb::flow_control& fc) const {
      TsanAcquire(&pipeline_started);
      RowPipeline& p = *TsanOpaque(state);
      TsanAcquire(&p.take_sync);
      BlockRow* row = p.TakeRow(fc);
      if (row != nullptr) TsanRelease(row);
      TsanRelease(&p.take_sync);
      TsanRelease(&p.done_sync);
      return row;
    }
  };
  // Parallel: generates the row's pixels.
  struct Fill {
    RowPipeline* state;
    BlockRow* operator()(BlockRow* row) const {
      TsanAcquire(&pipeline_started);
      RowPipeline& p = *TsanOpaque(state);
      TsanAcquire(row);
      p.gen.FillBlockRow(row->index, row->data.data());
      TsanRelease(row);
      TsanRelease(&p.done_sync);
      return row;
    }
  };
  // Serial, in order: writes the row and recycles its buffer.
  struct Write {
    RowPipeline* state;
    void operator()(BlockRow* row) const {
      TsanAcquire(&pipeline_started);
      RowPipeline& p = *TsanOpaque(state);
      TsanAcquire(&p.write_sync);
      TsanAcquire(row);
      p.WriteRow(std::unique_ptr<BlockRow>(row));
      TsanRelease(&p.write_sync);
      TsanRelease(&p.done_sync);
    }
  };

  BlockRow* TakeRow(tbb::flow_control& fc) {
    if (next_row >= blocks_y || failed.load(std::memory_order_relaxed)) {
      fc.stop();
      return nullptr;
    }
    std::unique_ptr<BlockRow> row;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!pool.empty()) {
        row = std::move(pool.back());
        pool.pop_back();
      }
    }
    if (row == nullptr) {
      row = std::make_unique<BlockRow>();
      row->data.resize(gen.BlockRowElements());
    }
    row->index = next_row++;
    return row.release();
  }

  void WriteRow(std::unique_ptr<BlockRow> row) {
    if (!failed.load(std::memory_order_relaxed)) {
      GdalErrorCapture write_capture;  // this thread's GDAL errors
      bool ok = true;
      for (int b = 0; b < kBands && ok; ++b) {
        GDALRasterBand* band = out->GetRasterBand(b + 1);
        for (int bx = 0; bx < gen.blocks_x() && ok; ++bx) {
          int16_t* block =
              row->data.data() + (static_cast<size_t>(b) * gen.blocks_x() + bx) * kBlock * kBlock;
          ok = band->WriteBlock(bx, row->index, block) == CE_None;
        }
      }
      if (!ok || write_capture.failed()) {
        write_error = absl::StrCat("block row ", row->index, ": ", GdalSays(write_capture));
        failed.store(true);
      }
    }
    std::lock_guard<std::mutex> lock(pool_mu);
    pool.push_back(std::move(row));
  }
};

// Writes date `date` to `path` through `path`.tmp.
absl::Status WriteDate(const std::string& path, int size, int date, uint32_t seed) {
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);

  const DateGenerator gen(size, date, seed);
  const int blocks_y = (size + kBlock - 1) / kBlock;

  GdalErrorCapture capture;
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (driver == nullptr) return absl::InternalError("GDAL has no GTiff driver");
  CPLStringList options;
  options.SetNameValue("TILED", "YES");
  options.SetNameValue("BLOCKXSIZE", "256");
  options.SetNameValue("BLOCKYSIZE", "256");
  options.SetNameValue("INTERLEAVE", "BAND");
  options.SetNameValue("COMPRESS", "NONE");
  options.SetNameValue("BIGTIFF", "IF_NEEDED");
  std::unique_ptr<GDALDataset> ds(
      driver->Create(tmp.c_str(), size, size, kBands, GDT_Int16, options.List()));
  if (ds == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot create '", tmp, "': ", GdalSays(capture)));
  }
  double gt[6];
  std::copy(std::begin(kGeoTransform), std::end(kGeoTransform), gt);
  ds->SetGeoTransform(gt);
  OGRSpatialReference srs;
  if (srs.importFromEPSG(kEpsg) == OGRERR_NONE) ds->SetSpatialRef(&srs);
  ds->SetMetadataItem(kMarkerKey, Marker(size, date, seed).c_str());
  const char* const names[kBands] = {"B", "G", "R", "NIR"};
  for (int b = 0; b < kBands; ++b) ds->GetRasterBand(b + 1)->SetDescription(names[b]);
  if (capture.failed()) {
    ds.reset();
    std::filesystem::remove(tmp, ec);
    return absl::UnavailableError(absl::StrCat("cannot set up '", tmp, "': ", GdalSays(capture)));
  }

  // Rows of blocks are generated in parallel and written in order by one
  // thread at a time, straight to the file with WriteBlock (GDAL's block
  // cache is not involved). Buffers are recycled; at most `tokens` are live.
  const int tokens = tbb::this_task_arena::max_concurrency() + 2;
  RowPipeline p(gen, ds.get(), blocks_y);
  TsanRelease(&pipeline_started);
  tbb::parallel_pipeline(
      tokens, tbb::make_filter<void, BlockRow*>(tbb::filter_mode::serial_in_order, RowPipeline::Take{&p}) &
                  tbb::make_filter<BlockRow*, BlockRow*>(tbb::filter_mode::parallel, RowPipeline::Fill{&p}) &
                  tbb::make_filter<BlockRow*, void>(tbb::filter_mode::serial_in_order, RowPipeline::Write{&p}));
  TsanAcquire(&p.done_sync);
  const bool failed = p.failed.load();
  const std::string write_error = p.write_error;

  ds.reset();  // closes: writes the TIFF directory
  if (failed || capture.failed()) {
    std::filesystem::remove(tmp, ec);
    return absl::UnavailableError(absl::StrCat(
        "cannot write '", tmp, "': ", failed ? write_error : GdalSays(capture)));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::UnavailableError(
        absl::StrCat("cannot rename '", tmp, "' to '", path, "': ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MakeS2Like(const std::string& dir, int size, int dates,
                                                    uint32_t seed, const std::function<bool()>& stop) {
  if (dir.empty()) return absl::InvalidArgumentError("MakeS2Like: empty directory name");
  if (size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MakeS2Like('", dir, "'): size must be > 0, got ", size));
  }
  if (dates <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MakeS2Like('", dir, "'): dates must be > 0, got ", dates));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create directory '", dir, "': ", ec.message()));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("'", dir, "' is not a directory"));
  }
  GDALAllRegister();
  std::vector<std::string> paths;
  for (int date = 1; date <= dates; ++date) {
    std::string path = (std::filesystem::path(dir) / absl::StrCat("date_", date, ".tif")).string();
    if (stop && stop()) return absl::CancelledError(absl::StrCat("MakeS2Like('", dir, "'): stopped"));
    if (!IsCompleteDate(path, size, date, seed)) {
      if (absl::Status s = WriteDate(path, size, date, seed); !s.ok()) return s;
    }
    paths.push_back(std::move(path));
  }
  return paths;
}

}  // namespace eoscale::examples
