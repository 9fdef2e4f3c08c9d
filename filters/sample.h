// Per-sample helpers shared by the filters: conversion between pixel types
// with Cast's semantics, the nodata test, and output profiles with another
// pixel type. Header-only; every function is pure and thread-safe.
#ifndef EOSCALE_FILTERS_SAMPLE_H_
#define EOSCALE_FILTERS_SAMPLE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include "eoscale/core/pixel_type.h"
#include "eoscale/core/profile.h"

namespace eoscale::filters {

// Converts one sample to `To` as Cast does: floats to integers truncate toward
// zero and saturate at the type's limits (NaN becomes 0); integers saturate;
// conversions to floating point are C++ conversions (round to nearest).
template <typename To, typename From>
To ConvertSample(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_floating_point_v<From>) {
    if (std::isnan(v)) return 0;
    const double d = std::trunc(static_cast<double>(v));
    return static_cast<To>(std::clamp(d, static_cast<double>(std::numeric_limits<To>::lowest()),
                                      static_cast<double>(std::numeric_limits<To>::max())));
  } else {
    using Wide = std::conditional_t<std::is_signed_v<From> || std::is_signed_v<To>, int64_t, uint64_t>;
    const Wide w = static_cast<Wide>(v);
    const Wide lo = static_cast<Wide>(std::numeric_limits<To>::lowest());
    const Wide hi = static_cast<Wide>(std::numeric_limits<To>::max());
    if constexpr (std::is_signed_v<Wide>) {
      return static_cast<To>(std::clamp(w, lo, hi));
    } else {
      return static_cast<To>(std::min(w, hi));
    }
  }
}

// True when `value` is exactly representable in `type` (NaN and infinities
// only in floating-point types).
inline bool RepresentableIn(double value, PixelType type) {
  return DispatchPixelType(type, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      return std::isnan(value) || static_cast<double>(static_cast<T>(value)) == value;
    } else {
      if (!std::isfinite(value) || value != std::trunc(value)) return false;
      return value >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
             value <= static_cast<double>(std::numeric_limits<T>::max());
    }
  });
}

// `p` with pixel type `type`; its nodata is kept only if `type` can hold it.
inline Profile WithPixelType(Profile p, PixelType type) {
  p.type = type;
  if (p.nodata && !RepresentableIn(*p.nodata, type)) p.nodata.reset();
  return p;
}

// Tells nodata samples of type T: a sample equal to the profile's nodata
// (compared in T, as GDAL's nodata mask does), and NaN for floating types.
// An integer image whose nodata is not representable in T has no nodata.
template <typename T>
class NodataTest {
 public:
  explicit NodataTest(const std::optional<double>& nodata) {
    if (!nodata) return;
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isnan(*nodata)) {
        has_value_ = true;
        value_ = static_cast<T>(*nodata);
      }
    } else {
      if (RepresentableIn(*nodata, kPixelTypeOf<T>)) {
        has_value_ = true;
        value_ = static_cast<T>(*nodata);
      }
    }
  }
  bool operator()(T v) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::isnan(v) || (has_value_ && v == value_);
    } else {
      return has_value_ && v == value_;
    }
  }

 private:
  bool has_value_ = false;
  T value_{};
};

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_SAMPLE_H_
