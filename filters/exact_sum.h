// ExactSum: the exact sum of any number of doubles, whatever their order or
// grouping. A fixed-point accumulator spanning the whole double range (a
// "superaccumulator": 32-bit digits in 64-bit limbs, carries propagated
// lazily), so that the reductions built on it (Statistics) give bitwise the
// same result for every tiling and worker count.
//
// A value type (about 600 bytes). Not thread-safe; copy or merge instead.
#ifndef EOSCALE_FILTERS_EXACT_SUM_H_
#define EOSCALE_FILTERS_EXACT_SUM_H_

#include <array>
#include <cstdint>

namespace eoscale::filters {

class ExactSum {
 public:
  // Adds x exactly. Infinities and NaN are tracked apart: the sum is then
  // +-inf, or NaN (NaN, or both infinities).
  void Add(double x);
  // Adds another sum exactly.
  void Add(const ExactSum& other);

  // The sum as an unevaluated pair hi + lo (|lo| <= ulp(hi) / 2), accurate to
  // about 2^-100 relative: enough to derive a variance without cancellation
  // trouble. A function of the exact sum only.
  void Value(double* hi, double* lo) const;
  // The sum rounded to a double.
  double Value() const;

 private:
  // Bit 0 of limb 0 weighs 2^-1074 (the smallest subnormal); a double's
  // top bit is at most bit 2098; the top limbs are headroom for carries.
  static constexpr int kLimbs = 70;
  // A normalized limb is in [0, 2^32) (the top one signed); each Add moves a
  // limb by less than 2^33, so 2^29 adds fit in an int64 before carrying.
  static constexpr int32_t kMaxPending = 1 << 29;

  void Normalize();

  std::array<int64_t, kLimbs> limbs_{};
  int32_t pending_ = 0;
  int64_t pos_inf_ = 0;
  int64_t neg_inf_ = 0;
  bool nan_ = false;
};

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_EXACT_SUM_H_
