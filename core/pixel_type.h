// Pixel types: a runtime tag and one compile-time dispatch helper, so that a
// filter is written once as a template and instantiated for the tag at hand.
#ifndef EOSCALE_CORE_PIXEL_TYPE_H_
#define EOSCALE_CORE_PIXEL_TYPE_H_

#include <cstddef>
#include <cstdint>
#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace eoscale {

// GDAL's integer and float types (no complex types).
enum class PixelType : uint8_t { kU8, kI8, kU16, kI16, kU32, kI32, kF32, kF64 };

inline constexpr PixelType kAllPixelTypes[] = {
    PixelType::kU8,  PixelType::kI8,  PixelType::kU16, PixelType::kI16,
    PixelType::kU32, PixelType::kI32, PixelType::kF32, PixelType::kF64};

// Size in bytes of one sample.
size_t PixelSize(PixelType type);
// "u8", "i16", "f32", ...
absl::string_view PixelTypeName(PixelType type);
// Parses the names above and numpy-like aliases ("uint8", "int16", "float32").
absl::StatusOr<PixelType> ParsePixelType(absl::string_view name);

template <typename T>
struct PixelTypeOf;
template <> struct PixelTypeOf<uint8_t> { static constexpr PixelType value = PixelType::kU8; };
template <> struct PixelTypeOf<int8_t> { static constexpr PixelType value = PixelType::kI8; };
template <> struct PixelTypeOf<uint16_t> { static constexpr PixelType value = PixelType::kU16; };
template <> struct PixelTypeOf<int16_t> { static constexpr PixelType value = PixelType::kI16; };
template <> struct PixelTypeOf<uint32_t> { static constexpr PixelType value = PixelType::kU32; };
template <> struct PixelTypeOf<int32_t> { static constexpr PixelType value = PixelType::kI32; };
template <> struct PixelTypeOf<float> { static constexpr PixelType value = PixelType::kF32; };
template <> struct PixelTypeOf<double> { static constexpr PixelType value = PixelType::kF64; };

template <typename T>
inline constexpr PixelType kPixelTypeOf = PixelTypeOf<T>::value;

// Calls `fn.template operator()<T>()` with T the C++ type of `type`, e.g.
//   DispatchPixelType(view.type(), [&]<typename T>() { Process<T>(view); });
template <typename Fn>
decltype(auto) DispatchPixelType(PixelType type, Fn&& fn) {
  switch (type) {
    case PixelType::kU8: return std::forward<Fn>(fn).template operator()<uint8_t>();
    case PixelType::kI8: return std::forward<Fn>(fn).template operator()<int8_t>();
    case PixelType::kU16: return std::forward<Fn>(fn).template operator()<uint16_t>();
    case PixelType::kI16: return std::forward<Fn>(fn).template operator()<int16_t>();
    case PixelType::kU32: return std::forward<Fn>(fn).template operator()<uint32_t>();
    case PixelType::kI32: return std::forward<Fn>(fn).template operator()<int32_t>();
    case PixelType::kF32: return std::forward<Fn>(fn).template operator()<float>();
    case PixelType::kF64: break;
  }
  return std::forward<Fn>(fn).template operator()<double>();
}

}  // namespace eoscale

#endif  // EOSCALE_CORE_PIXEL_TYPE_H_
