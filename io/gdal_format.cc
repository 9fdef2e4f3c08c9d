// GDAL as the default RasterFormat: what Context::Open(path) and
// Context::Write(image, path) use unless ContextOptions::format says otherwise.
#include <memory>

#include "absl/strings/str_cat.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/io/aligned_source.h"
#include "eoscale/io/gdal_raster.h"

namespace eoscale {
namespace {

class GdalFormat final : public RasterFormat {
 public:
  absl::StatusOr<std::shared_ptr<RasterSource>> Open(const std::string& path, std::vector<int> bands) override {
    absl::StatusOr<std::unique_ptr<RasterSource>> s = io::OpenRaster(path, std::move(bands));
    if (!s.ok()) return s.status();
    return std::shared_ptr<RasterSource>(*std::move(s));
  }
  absl::StatusOr<std::shared_ptr<RasterSource>> OpenAligned(const std::string& path, std::vector<int> bands,
                                                            const Profile& grid,
                                                            const std::string& resampling) override {
    return io::OpenAligned(path, std::move(bands), grid, resampling);
  }
  absl::Status CheckWritable(const std::string& path, const std::vector<std::string>& options) override {
    if (absl::Status s = io::CheckWritable(path); !s.ok()) return s;
    if (absl::Status s = io::CheckCreationOptions(options); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("cannot write '", path, "': ", s.message()));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<RasterSink>> Create(const std::string& path, const Profile& profile,
                                                     const SinkLayout& layout,
                                                     const std::vector<std::string>& options) override {
    return io::CreateGeoTiff(path, profile, layout.block_width, layout.block_height, options,
                             layout.durable, layout.assemble_rows);
  }
};

}  // namespace

std::shared_ptr<RasterFormat> DefaultRasterFormat() {
  static const std::shared_ptr<RasterFormat> format = std::make_shared<GdalFormat>();
  return format;
}

}  // namespace eoscale
