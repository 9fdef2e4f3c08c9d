// Array: a whole image held in memory, owned (what ReadAll returns, and what
// an in-memory source can be made from). Band-sequential (bands, rows, cols).
#ifndef EOSCALE_CORE_ARRAY_H_
#define EOSCALE_CORE_ARRAY_H_

#include <cstddef>
#include <memory>
#include <span>

#include "eoscale/core/profile.h"
#include "eoscale/core/view.h"

namespace eoscale {

class Array {
 public:
  Array() = default;
  // Zero-filled pixels for `profile`.
  explicit Array(Profile profile);

  const Profile& profile() const { return profile_; }
  size_t bytes() const { return bytes_; }
  const void* data() const { return data_.get(); }
  void* mutable_data() { return data_.get(); }

  ConstView view() const {
    return ConstView::Contiguous(data_.get(), profile_.type, profile_.bands,
                                 {0, 0, profile_.width, profile_.height});
  }
  View mutable_view() {
    return View::Contiguous(data_.get(), profile_.type, profile_.bands,
                            {0, 0, profile_.width, profile_.height});
  }
  // Typed access to all samples. Throws std::invalid_argument if T is not the
  // profile's pixel type.
  template <typename T>
  std::span<const T> Samples() const {
    if (kPixelTypeOf<T> != profile_.type) internal::ThrowTypeMismatch(profile_.type, kPixelTypeOf<T>);
    return {reinterpret_cast<const T*>(data_.get()), bytes_ / sizeof(T)};
  }
  template <typename T>
  std::span<T> MutableSamples() {
    if (kPixelTypeOf<T> != profile_.type) internal::ThrowTypeMismatch(profile_.type, kPixelTypeOf<T>);
    return {reinterpret_cast<T*>(data_.get()), bytes_ / sizeof(T)};
  }

 private:
  Profile profile_;
  size_t bytes_ = 0;
  std::unique_ptr<std::byte[]> data_;
};

}  // namespace eoscale

#endif  // EOSCALE_CORE_ARRAY_H_
