#include "crop_source.h"

namespace eoscale::cli {

CropSource::CropSource(std::shared_ptr<RasterSource> base, const Window& window)
    : base_(std::move(base)), window_(window), profile_(CropProfile(base_->profile(), window)) {}

absl::Status CropSource::Read(const View& dst) {
  const Window& w = dst.window();
  const Window shifted{w.x + window_.x, w.y + window_.y, w.width, w.height};
  return base_->Read(View(dst.data(), dst.type(), dst.bands(), shifted, dst.row_stride(), dst.band_stride()));
}

}  // namespace eoscale::cli
