#include "eoscale/core/pixel_type.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace eoscale {

size_t PixelSize(PixelType type) {
  return DispatchPixelType(type, []<typename T>() { return sizeof(T); });
}

absl::string_view PixelTypeName(PixelType type) {
  switch (type) {
    case PixelType::kU8: return "u8";
    case PixelType::kI8: return "i8";
    case PixelType::kU16: return "u16";
    case PixelType::kI16: return "i16";
    case PixelType::kU32: return "u32";
    case PixelType::kI32: return "i32";
    case PixelType::kF32: return "f32";
    case PixelType::kF64: return "f64";
  }
  return "?";
}

absl::StatusOr<PixelType> ParsePixelType(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  static constexpr struct { const char* a; const char* b; PixelType t; } kNames[] = {
      {"u8", "uint8", PixelType::kU8},    {"i8", "int8", PixelType::kI8},
      {"u16", "uint16", PixelType::kU16}, {"i16", "int16", PixelType::kI16},
      {"u32", "uint32", PixelType::kU32}, {"i32", "int32", PixelType::kI32},
      {"f32", "float32", PixelType::kF32}, {"f64", "float64", PixelType::kF64}};
  for (const auto& e : kNames) {
    if (n == e.a || n == e.b) return e.t;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown pixel type '", name,
                                                 "' (expected one of u8 i8 u16 i16 u32 i32 f32 f64)"));
}

}  // namespace eoscale
