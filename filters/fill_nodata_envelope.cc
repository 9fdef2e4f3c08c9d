#include "fill_nodata_envelope.h"

#include <algorithm>

namespace eoscale::filters::internal {
namespace {
// Products of a u difference and a g difference (u² + f: up to the window's
// width² plus its height²) can pass 2^63 for very wide strips.
__extension__ typedef __int128 Int128;
}  // namespace

void LowerEnvelope::Add(int64_t u, int64_t f, int tag) {
  const Line l{u, u * u + f, tag};
  // Drop the last line while the new one and the one before it cover it:
  // where a and l cross is at or left of where a and b cross. A line that
  // only touches the envelope at one point goes too: there, it ties with
  // both neighbours, and only the extreme tied lines matter.
  // Crossings compared exactly: (g_l - g_a) / (u_l - u_a) <= (g_b - g_a) /
  // (u_b - u_a), denominators > 0, in 128 bits.
  while (lines_.size() >= 2) {
    const Line& a = lines_[lines_.size() - 2];
    const Line& b = lines_.back();
    const Int128 lhs = static_cast<Int128>(l.g - a.g) * (b.u - a.u);
    const Int128 rhs = static_cast<Int128>(b.g - a.g) * (l.u - a.u);
    if (lhs > rhs) break;
    lines_.pop_back();
  }
  lines_.push_back(l);
  pointer_ = std::min(pointer_, lines_.size() - 1);
}

LowerEnvelope::Nearest LowerEnvelope::Query(int64_t u) {
  // The nearest line moves right as u grows: lines left of the pointer were
  // strictly above it at an earlier query, and a line of lower slope only
  // gains on them as u grows. A line dropped since was under the envelope
  // nowhere, so the pointer stays valid once clamped (Add).
  while (pointer_ + 1 < lines_.size() && At(lines_[pointer_ + 1], u) < At(lines_[pointer_], u)) ++pointer_;
  const Line& best = lines_[pointer_];
  const int64_t value = At(best, u);
  Nearest n{value + u * u, best.tag, best.tag};
  // At most two lines of the envelope meet at one point (Add drops the
  // middle one of three).
  if (pointer_ + 1 < lines_.size() && At(lines_[pointer_ + 1], u) == value) n.high_tag = lines_[pointer_ + 1].tag;
  return n;
}

}  // namespace eoscale::filters::internal
