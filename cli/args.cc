#include "args.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace eoscale::cli {

std::string ArgReader::Next() {
  inline_value_.reset();
  const std::string& t = tokens_[pos_++];
  if (t.size() > 2 && t[0] == '-' && t[1] == '-') {
    const size_t eq = t.find('=');
    if (eq != std::string::npos) {
      inline_value_ = t.substr(eq + 1);
      return t.substr(0, eq);
    }
  }
  return t;
}

std::string ArgReader::Value(const std::string& option) {
  if (inline_value_) {
    std::string v = *std::move(inline_value_);
    inline_value_.reset();
    return v;
  }
  if (Done()) throw UsageError(absl::StrCat(option, " needs a value"));
  return tokens_[pos_++];
}

bool LooksLikeOption(const std::string& token) {
  if (token.size() < 2 || token[0] != '-') return false;
  if (token[1] == '-') return token.size() > 2;
  return !(absl::ascii_isdigit(static_cast<unsigned char>(token[1])) || token[1] == '.');
}

int64_t ParseInteger(const std::string& option, const std::string& value, int64_t lo, int64_t hi) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v)) {
    throw UsageError(absl::StrCat(option, " takes an integer, got '", value, "'"));
  }
  if (v < lo || v > hi) {
    throw UsageError(absl::StrCat(option, " must be between ", lo, " and ", hi, ", got ", v));
  }
  return v;
}

double ParseNumber(const std::string& option, const std::string& value) {
  double v = 0;
  if (!absl::SimpleAtod(value, &v) || !std::isfinite(v)) {
    throw UsageError(absl::StrCat(option, " takes a finite number, got '", value, "'"));
  }
  return v;
}

int64_t ParseMemory(const std::string& option, const std::string& value) {
  const std::string bad = absl::StrCat(option, " takes a size with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), ",
                                       "e.g. 2GiB, got '", value, "'");
  absl::string_view s = absl::StripAsciiWhitespace(value);
  size_t n = 0;
  while (n < s.size() && (absl::ascii_isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
  double number = 0;
  if (n == 0 || !absl::SimpleAtod(s.substr(0, n), &number)) {
    if (!s.empty() && s[0] == '-') throw UsageError(absl::StrCat(option, " must be positive, got '", value, "'"));
    throw UsageError(bad);
  }
  const std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(n)));
  // clang-format off
  static const std::pair<const char*, double> kUnits[] = {
      {"b", 1.0},            {"kib", 1024.0},       {"k", 1024.0},
      {"mib", 1048576.0},    {"m", 1048576.0},      {"gib", 1073741824.0},
      {"g", 1073741824.0},   {"tib", 1099511627776.0}, {"t", 1099511627776.0},
      {"kb", 1e3},           {"mb", 1e6},           {"gb", 1e9},      {"tb", 1e12}};
  // clang-format on
  double scale = 0;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) scale = factor;
  }
  if (scale == 0) throw UsageError(bad);
  const double bytes = std::floor(number * scale);
  if (!(bytes >= 1)) throw UsageError(absl::StrCat(option, " must be positive, got '", value, "'"));
  if (bytes > 9e18) throw UsageError(absl::StrCat(option, " is too large: '", value, "'"));
  return static_cast<int64_t>(bytes);
}

namespace {

std::vector<std::string> CommaList(const std::string& option, const std::string& value, size_t count,
                                   const char* shape) {
  std::vector<std::string> parts = absl::StrSplit(value, ',');
  if (parts.size() != count) {
    throw UsageError(absl::StrCat(option, " takes ", shape, ", got '", value, "'"));
  }
  for (std::string& p : parts) p = std::string(absl::StripAsciiWhitespace(p));
  return parts;
}

}  // namespace

Window ParseWindow(const std::string& option, const std::string& value) {
  const auto p = CommaList(option, value, 4, "col,row,width,height");
  Window w;
  w.x = static_cast<int>(ParseInteger(option + " col", p[0], 0, INT32_MAX));
  w.y = static_cast<int>(ParseInteger(option + " row", p[1], 0, INT32_MAX));
  w.width = static_cast<int>(ParseInteger(option + " width", p[2], 1, INT32_MAX));
  w.height = static_cast<int>(ParseInteger(option + " height", p[3], 1, INT32_MAX));
  return w;
}

std::array<double, 4> ParseBox(const std::string& option, const std::string& value) {
  const auto p = CommaList(option, value, 4, "xmin,ymin,xmax,ymax");
  std::array<double, 4> b;
  for (int i = 0; i < 4; ++i) b[i] = ParseNumber(option, p[i]);
  if (!(b[0] < b[2]) || !(b[1] < b[3])) {
    throw UsageError(absl::StrCat(option, " needs xmin < xmax and ymin < ymax, got '", value, "'"));
  }
  return b;
}

PixelType ParseOutputType(const std::string& option, const std::string& value) {
  const std::string v = absl::AsciiStrToLower(value);
  static const std::pair<const char*, PixelType> kGdal[] = {
      {"byte", PixelType::kU8},     {"int8", PixelType::kI8},     {"uint16", PixelType::kU16},
      {"int16", PixelType::kI16},   {"uint32", PixelType::kU32},  {"int32", PixelType::kI32},
      {"float32", PixelType::kF32}, {"float64", PixelType::kF64},
  };
  for (const auto& [name, type] : kGdal) {
    if (v == name) return type;
  }
  absl::StatusOr<PixelType> t = ParsePixelType(v);
  if (t.ok()) return *t;
  throw UsageError(absl::StrCat(option, " takes a GDAL type (Byte, Int8, UInt16, Int16, UInt32, Int32, ",
                                "Float32, Float64), got '", value, "'"));
}

const char* GdalTypeName(PixelType type) {
  switch (type) {
    case PixelType::kU8: return "Byte";
    case PixelType::kI8: return "Int8";
    case PixelType::kU16: return "UInt16";
    case PixelType::kI16: return "Int16";
    case PixelType::kU32: return "UInt32";
    case PixelType::kI32: return "Int32";
    case PixelType::kF32: return "Float32";
    case PixelType::kF64: break;
  }
  return "Float64";
}

std::vector<int> ParseBandList(const std::string& option, const std::string& value) {
  std::vector<int> bands;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    bands.push_back(static_cast<int>(ParseInteger(option, std::string(absl::StripAsciiWhitespace(part)), 1, 65535)));
  }
  return bands;
}

std::string ParseKeyValue(const std::string& option, const std::string& value) {
  const size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(absl::StrCat(option, " takes KEY=VALUE, got '", value, "'"));
  }
  return value;
}

}  // namespace eoscale::cli
