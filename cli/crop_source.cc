#include "crop_source.h"

namespace eoscale::cli {

CropSource::CropSource(std::shared_ptr<RasterSource> base, const Window& window)
    : base_(std::move(base)), window_(window), profile_(CropProfile(base_->profile(), window)) {}

absl::Status CropSource::Read(const View& dst) {
  const Window& w = dst.window();
  const Window shifted{w.x + window_.x, w.y + window_.y, w.width, w.height};
  return base_->Read(View(dst.data(), dst.type(), dst.bands(), shifted, dst.row_stride(), dst.band_stride()));
}

namespace {

// The seams within [origin, origin + extent), from `origin`.
std::vector<int> Shifted(const std::vector<int>& seams, int origin, int extent) {
  std::vector<int> out;
  for (int v : seams) {
    if (v > origin && v < origin + extent) out.push_back(v - origin);
  }
  return out;
}

}  // namespace

std::vector<int> CropSource::column_seams() const {
  return Shifted(base_->column_seams(), window_.x, window_.width);
}

std::vector<int> CropSource::row_seams() const { return Shifted(base_->row_seams(), window_.y, window_.height); }

}  // namespace eoscale::cli
