#include "eoscale/filters/logical.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace eoscale::filters {
namespace {

enum class Op { kAnd, kOr, kNot };

// Folds row y of band b of input `i` into `acc` (0/1).
void FoldRow(const MapTile& t, size_t i, int b, int y, Op op, uint8_t* acc) {
  DispatchPixelType(t.inputs[i].type(), [&]<typename T>() {
    const T* s = t.In<T>(i).Row(b, y);
    const int n = t.tile.window.width;
    if (i == 0) {
      for (int x = 0; x < n; ++x) acc[x] = (s[x] != T{0}) != (op == Op::kNot) ? 1 : 0;
    } else if (op == Op::kAnd) {
      for (int x = 0; x < n; ++x) acc[x] &= s[x] != T{0} ? 1 : 0;
    } else {
      for (int x = 0; x < n; ++x) acc[x] |= s[x] != T{0} ? 1 : 0;
    }
  });
}

MapFilter Logical(Op op, std::string name) {
  MapFilter f;
  f.name = std::move(name);
  f.num_outputs = 1;
  f.profiles = [op, name = f.name](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    if (op == Op::kNot && in.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", in.size(), " inputs, expected 1"));
    }
    for (const Profile& p : in) {
      if (p.bands != in[0].bands) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": inputs with ", in[0].bands, " and ", p.bands, " bands"));
      }
    }
    Profile p = in[0];
    p.type = PixelType::kU8;
    p.nodata.reset();
    return std::vector<Profile>{p};
  };
  f.fn = [op](const MapTile& t) {
    const auto dst = t.Out<uint8_t>(0);
    const size_t n = op == Op::kNot ? 1 : t.inputs.size();
    for (int b = 0; b < dst.bands(); ++b) {
      for (int y = 0; y < dst.rows(); ++y) {
        for (size_t i = 0; i < n; ++i) FoldRow(t, i, b, y, op, dst.Row(b, y));
      }
    }
    return absl::OkStatus();
  };
  return f;
}

}  // namespace

MapFilter LogicalAnd() { return Logical(Op::kAnd, "logical and"); }
MapFilter LogicalOr() { return Logical(Op::kOr, "logical or"); }
MapFilter LogicalNot() { return Logical(Op::kNot, "logical not"); }

}  // namespace eoscale::filters
