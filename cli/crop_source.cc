#include "crop_source.h"

namespace eoscale::cli {

CropSource::CropSource(std::shared_ptr<RasterSource> base, const Window& window)
    : base_(std::move(base)), window_(window), profile_(CropProfile(base_->profile(), window)) {}

absl::Status CropSource::Read(const View& dst) {
  const Window& w = dst.window();
  const Window shifted{w.x + window_.x, w.y + window_.y, w.width, w.height};
  return base_->Read(View(dst.data(), dst.type(), dst.bands(), shifted, dst.row_stride(), dst.band_stride()));
}

std::vector<int> CropSource::column_seams() const {
  std::vector<int> seams;
  for (int x : base_->column_seams()) {
    if (x > window_.x && x < window_.x + window_.width) seams.push_back(x - window_.x);
  }
  return seams;
}

}  // namespace eoscale::cli
