#include "eoscale/core/view.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace eoscale {
namespace internal {
void ThrowTypeMismatch(PixelType have, PixelType want) {
  throw std::invalid_argument(absl::StrCat("view holds ", PixelTypeName(have),
                                           " pixels but was read as ", PixelTypeName(want)));
}
void ThrowWindowNotCovered(const Window& have, const Window& want) {
  throw std::invalid_argument(absl::StrCat("view covers ", DescribeWindow(have), " but was read as a tile of ",
                                           DescribeWindow(want)));
}
}  // namespace internal

ConstView ConstView::Sub(const Window& w) const {
  const int64_t off = (w.y - window_.y) * row_stride_ + (w.x - window_.x);
  return ConstView(data_ + off * static_cast<int64_t>(PixelSize(type_)), type_, bands_, w, row_stride_,
                   band_stride_);
}

ConstView ConstView::Band(int band) const {
  return ConstView(RowPtr(band, 0), type_, 1, window_, row_stride_, band_stride_);
}

View View::Sub(const Window& w) const {
  const int64_t off = (w.y - window_.y) * row_stride_ + (w.x - window_.x);
  return View(data_ + off * static_cast<int64_t>(PixelSize(type_)), type_, bands_, w, row_stride_,
              band_stride_);
}

void CopyPixels(const ConstView& src, const View& dst) {
  const size_t row_bytes = static_cast<size_t>(src.cols()) * PixelSize(src.type());
  for (int b = 0; b < src.bands(); ++b) {
    for (int y = 0; y < src.rows(); ++y) {
      std::memcpy(dst.RowPtr(b, y), src.RowPtr(b, y), row_bytes);
    }
  }
}

}  // namespace eoscale
