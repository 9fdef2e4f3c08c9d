#include "eoscale/io/gdal_util.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace eoscale::io::internal {

absl::StatusOr<PixelType> FromGdal(GDALDataType t, bool signed_byte) {
  switch (t) {
    case GDT_Byte: return signed_byte ? PixelType::kI8 : PixelType::kU8;
    case GDT_UInt16: return PixelType::kU16;
    case GDT_Int16: return PixelType::kI16;
    case GDT_UInt32: return PixelType::kU32;
    case GDT_Int32: return PixelType::kI32;
    case GDT_Float32: return PixelType::kF32;
    case GDT_Float64: return PixelType::kF64;
    default:
      return absl::UnimplementedError(
          absl::StrCat("unsupported pixel type ", GDALGetDataTypeName(t)));
  }
}

GDALDataType ToGdal(PixelType t) {
  switch (t) {
    case PixelType::kU8:
    case PixelType::kI8: return GDT_Byte;  // GDAL 3.6: signed bytes are tagged Byte
    case PixelType::kU16: return GDT_UInt16;
    case PixelType::kI16: return GDT_Int16;
    case PixelType::kU32: return GDT_UInt32;
    case PixelType::kI32: return GDT_Int32;
    case PixelType::kF32: return GDT_Float32;
    case PixelType::kF64: return GDT_Float64;
  }
  return GDT_Unknown;
}

std::string Dirname(const std::string& path) {
  std::filesystem::path p(path);
  std::filesystem::path d = p.parent_path();
  return d.empty() ? std::string(".") : d.string();
}


}  // namespace eoscale::io::internal
