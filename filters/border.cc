#include "eoscale/filters/border.h"


namespace eoscale::filters {

absl::string_view BorderModeName(BorderMode mode) {
  switch (mode) {
    case BorderMode::kReflect: return "reflect";
    case BorderMode::kMirror: return "mirror";
    case BorderMode::kNearest: return "nearest";
    case BorderMode::kWrap: return "wrap";
    case BorderMode::kConstant: return "constant";
  }
  return "?";
}

int BorderMargin(int reach, BorderMode mode) {
  // Large enough for any image, small enough that the engine's window
  // arithmetic (tile origin + size + margin) cannot overflow an int.
  constexpr int kWholeImage = 1 << 29;
  return mode == BorderMode::kWrap ? kWholeImage : reach;
}

void BorderTable(int start, int count, int before, int after, int image_size, int view_start, int view_size,
                 BorderMode mode, std::vector<int>* out) {
  const int k = before + after + 1;
  out->resize(static_cast<size_t>(count) * k);
  int* p = out->data();
  for (int o = 0; o < count; ++o) {
    const int pos = start + o;
    for (int j = -before; j <= after; ++j) {
      const int i = BorderIndex(pos + j, image_size, mode);
      int v = i < 0 ? -1 : i - view_start;
      if (i >= 0 && (v < 0 || v >= view_size)) v = BorderIndex(pos + j - view_start, view_size, mode);
      *p++ = v;
    }
  }
}

void TileBorderTable(int start, int count, int before, int after, int image_size, int margin_before,
                     int margin_after, BorderMode mode, std::vector<int>* out) {
  BorderTable(start, count, before, after, image_size, start - margin_before, margin_before + count + margin_after,
              mode, out);
  for (int& v : *out) v = v < 0 ? kBorderConstant : v - margin_before;
}

}  // namespace eoscale::filters
