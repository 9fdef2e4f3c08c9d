// Views of band-sequential pixel buffers (bands, rows, cols) with strides.
// A view never owns its pixels. ConstView is what a filter reads (inputs,
// including the margin); View is what it writes (outputs, the stable window).
// ConstTileView is a typed input addressed in a tile's coordinates (see
// MapTile::In in graph/filter.h). Views are cheap to copy; copying a View
// does not copy pixels.
#ifndef EOSCALE_CORE_VIEW_H_
#define EOSCALE_CORE_VIEW_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "eoscale/core/pixel_type.h"
#include "eoscale/core/tiling.h"

namespace eoscale {

namespace internal {
[[noreturn]] void ThrowTypeMismatch(PixelType have, PixelType want);
[[noreturn]] void ThrowWindowNotCovered(const Window& have, const Window& want);
}  // namespace internal

// A typed read-only view. Element (b, y, x) is at
// data[b * band_stride + y * row_stride + x].
template <typename T>
class ConstTypedView {
 public:
  ConstTypedView(const T* data, int bands, int rows, int cols, int64_t row_stride, int64_t band_stride)
      : data_(data), bands_(bands), rows_(rows), cols_(cols), row_stride_(row_stride),
        band_stride_(band_stride) {}
  int bands() const { return bands_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int64_t row_stride() const { return row_stride_; }
  int64_t band_stride() const { return band_stride_; }
  const T* Row(int band, int y) const { return data_ + band * band_stride_ + y * row_stride_; }
  T operator()(int band, int y, int x) const { return Row(band, y)[x]; }

 private:
  const T* data_;
  int bands_, rows_, cols_;
  int64_t row_stride_, band_stride_;
};

// A typed read-only view addressed in a tile's coordinates: element (b, 0, 0)
// is the first pixel of the tile's stable window, rows() x cols() is the
// stable window, and the view also holds top() rows above it, bottom() rows
// below, left() columns to its left and right() to its right (the margin the
// buffer actually holds: clamped at the image border). Valid reads are
// y in [-top(), rows() + bottom()) and x in [-left(), cols() + right()), so
// Row(b, y)[-1] is the left neighbour of Row(b, y)[0], and raising a filter's
// margin never shifts what it reads. Reads outside that range are undefined
// (checked by assert() in debug builds).
template <typename T>
class ConstTileView {
 public:
  // `origin` points at element (0, 0, 0), inside a buffer that holds the
  // margins around it.
  ConstTileView(const T* origin, int bands, int rows, int cols, int64_t row_stride, int64_t band_stride, int top,
                int right, int bottom, int left)
      : origin_(origin), bands_(bands), rows_(rows), cols_(cols), top_(top), right_(right), bottom_(bottom),
        left_(left), row_stride_(row_stride), band_stride_(band_stride) {}
  int bands() const { return bands_; }
  int rows() const { return rows_; }  // of the stable window
  int cols() const { return cols_; }  // of the stable window
  int top() const { return top_; }
  int right() const { return right_; }
  int bottom() const { return bottom_; }
  int left() const { return left_; }
  int64_t row_stride() const { return row_stride_; }    // in elements
  int64_t band_stride() const { return band_stride_; }  // in elements
  // True when (y, x) may be read.
  bool Contains(int y, int x) const { return y >= -top_ && y < rows_ + bottom_ && x >= -left_ && x < cols_ + right_; }
  // Element (band, y, 0). REQUIRES: y in [-top(), rows() + bottom()).
  const T* Row(int band, int y) const {
    assert(band >= 0 && band < bands_ && y >= -top_ && y < rows_ + bottom_);
    return origin_ + band * band_stride_ + y * row_stride_;
  }
  // REQUIRES: Contains(y, x).
  T operator()(int band, int y, int x) const {
    assert(x >= -left_ && x < cols_ + right_);
    return Row(band, y)[x];
  }

 private:
  const T* origin_;
  int bands_, rows_, cols_;
  int top_, right_, bottom_, left_;
  int64_t row_stride_, band_stride_;
};

// A typed writable view.
template <typename T>
class TypedView {
 public:
  TypedView(T* data, int bands, int rows, int cols, int64_t row_stride, int64_t band_stride)
      : data_(data), bands_(bands), rows_(rows), cols_(cols), row_stride_(row_stride),
        band_stride_(band_stride) {}
  int bands() const { return bands_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  T* Row(int band, int y) const { return data_ + band * band_stride_ + y * row_stride_; }
  T& operator()(int band, int y, int x) const { return Row(band, y)[x]; }
  // Sets every element.
  void Fill(T value) const {
    for (int b = 0; b < bands_; ++b)
      for (int y = 0; y < rows_; ++y) {
        T* r = Row(b, y);
        for (int x = 0; x < cols_; ++x) r[x] = value;
      }
  }

 private:
  T* data_;
  int bands_, rows_, cols_;
  int64_t row_stride_, band_stride_;
};

// An untyped read-only view, tagged with its pixel type and the image window
// it covers (window.x/y are image coordinates of element (b, 0, 0)).
class ConstView {
 public:
  ConstView() = default;
  ConstView(const void* data, PixelType type, int bands, const Window& window, int64_t row_stride,
            int64_t band_stride)
      : data_(static_cast<const std::byte*>(data)), type_(type), bands_(bands), window_(window),
        row_stride_(row_stride), band_stride_(band_stride) {}
  // A contiguous view: row_stride = cols, band_stride = rows * cols.
  static ConstView Contiguous(const void* data, PixelType type, int bands, const Window& window) {
    return ConstView(data, type, bands, window, window.width, window.Pixels());
  }

  PixelType type() const { return type_; }
  int bands() const { return bands_; }
  int rows() const { return window_.height; }
  int cols() const { return window_.width; }
  const Window& window() const { return window_; }
  int64_t row_stride() const { return row_stride_; }    // in elements
  int64_t band_stride() const { return band_stride_; }  // in elements
  const void* data() const { return data_; }
  bool contiguous() const {
    return row_stride_ == window_.width && (bands_ == 1 || band_stride_ == window_.Pixels());
  }

  // The raw typed view: element (b, 0, 0) is the first pixel of window().
  // Throws std::invalid_argument when T is not the view's pixel type (the
  // engine turns it into an error naming the filter and the tile).
  template <typename T>
  ConstTypedView<T> As() const {
    if (kPixelTypeOf<T> != type_) internal::ThrowTypeMismatch(type_, kPixelTypeOf<T>);
    return ConstTypedView<T>(reinterpret_cast<const T*>(data_), bands_, rows(), cols(), row_stride_,
                             band_stride_);
  }
  // The typed view in the coordinates of `stable` (image coordinates): its
  // (0, 0) is stable's first pixel and its margins are what this view holds
  // around `stable`. Throws std::invalid_argument when T is not the view's
  // pixel type or when window() does not contain `stable`.
  template <typename T>
  ConstTileView<T> AsTile(const Window& stable) const {
    const ConstTypedView<T> v = As<T>();
    if (!window_.Contains(stable)) internal::ThrowWindowNotCovered(window_, stable);
    const int top = stable.y - window_.y;
    const int left = stable.x - window_.x;
    const int bottom = window_.y + window_.height - (stable.y + stable.height);
    const int right = window_.x + window_.width - (stable.x + stable.width);
    return ConstTileView<T>(v.Row(0, top) + left, bands_, stable.height, stable.width, row_stride_, band_stride_,
                            top, right, bottom, left);
  }
  const void* RowPtr(int band, int y) const {
    return data_ + (band * band_stride_ + y * row_stride_) * static_cast<int64_t>(PixelSize(type_));
  }
  // The part of this view covering `w` (image coordinates).
  // REQUIRES: window().Contains(w).
  ConstView Sub(const Window& w) const;
  // Only band `band`.
  ConstView Band(int band) const;

 private:
  const std::byte* data_ = nullptr;
  PixelType type_ = PixelType::kU8;
  int bands_ = 0;
  Window window_;
  int64_t row_stride_ = 0;
  int64_t band_stride_ = 0;
};

// An untyped writable view.
class View {
 public:
  View() = default;
  View(void* data, PixelType type, int bands, const Window& window, int64_t row_stride,
       int64_t band_stride)
      : data_(static_cast<std::byte*>(data)), type_(type), bands_(bands), window_(window),
        row_stride_(row_stride), band_stride_(band_stride) {}
  static View Contiguous(void* data, PixelType type, int bands, const Window& window) {
    return View(data, type, bands, window, window.width, window.Pixels());
  }

  PixelType type() const { return type_; }
  int bands() const { return bands_; }
  int rows() const { return window_.height; }
  int cols() const { return window_.width; }
  const Window& window() const { return window_; }
  int64_t row_stride() const { return row_stride_; }
  int64_t band_stride() const { return band_stride_; }
  void* data() const { return data_; }

  template <typename T>
  TypedView<T> As() const {
    if (kPixelTypeOf<T> != type_) internal::ThrowTypeMismatch(type_, kPixelTypeOf<T>);
    return TypedView<T>(reinterpret_cast<T*>(data_), bands_, rows(), cols(), row_stride_,
                        band_stride_);
  }
  void* RowPtr(int band, int y) const {
    return data_ + (band * band_stride_ + y * row_stride_) * static_cast<int64_t>(PixelSize(type_));
  }
  View Sub(const Window& w) const;
  operator ConstView() const {  // NOLINT: a writable view is readable
    return ConstView(data_, type_, bands_, window_, row_stride_, band_stride_);
  }

 private:
  std::byte* data_ = nullptr;
  PixelType type_ = PixelType::kU8;
  int bands_ = 0;
  Window window_;
  int64_t row_stride_ = 0;
  int64_t band_stride_ = 0;
};

// Copies `src` into `dst` (same type, bands and size; any strides).
// REQUIRES: matching type, bands, rows and cols.
void CopyPixels(const ConstView& src, const View& dst);

}  // namespace eoscale

#endif  // EOSCALE_CORE_VIEW_H_
