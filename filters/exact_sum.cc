#include "eoscale/filters/exact_sum.h"

#include <bit>
#include <cmath>
#include <limits>

namespace eoscale::filters {
namespace {

// s + e == a + b exactly (Knuth's TwoSum).
void TwoSum(double a, double b, double* s, double* e) {
  *s = a + b;
  const double bb = *s - a;
  *e = (a - (*s - bb)) + (b - bb);
}

}  // namespace

void ExactSum::Add(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ff);
  const uint64_t fraction = bits & ((uint64_t{1} << 52) - 1);
  const bool negative = (bits >> 63) != 0;
  if (exponent == 0x7ff) {
    if (fraction != 0) {
      nan_ = true;
    } else if (negative) {
      ++neg_inf_;
    } else {
      ++pos_inf_;
    }
    return;
  }
  // x = m * 2^(p - 1074) with m < 2^53.
  uint64_t m;
  int p;
  if (exponent == 0) {
    if (fraction == 0) return;
    m = fraction;
    p = 0;
  } else {
    m = fraction | (uint64_t{1} << 52);
    p = exponent - 1;
  }
  const int idx = p >> 5;
  const int shift = p & 31;
  const uint64_t t0 = (m & 0xffffffffu) << shift;  // < 2^63
  const uint64_t t1 = (m >> 32) << shift;          // < 2^52
  const int64_t l0 = static_cast<int64_t>(t0 & 0xffffffffu);
  const int64_t l1 = static_cast<int64_t>((t0 >> 32) + (t1 & 0xffffffffu));
  const int64_t l2 = static_cast<int64_t>(t1 >> 32);
  if (negative) {
    limbs_[idx] -= l0;
    limbs_[idx + 1] -= l1;
    limbs_[idx + 2] -= l2;
  } else {
    limbs_[idx] += l0;
    limbs_[idx + 1] += l1;
    limbs_[idx + 2] += l2;
  }
  if (++pending_ >= kMaxPending) Normalize();
}

void ExactSum::Add(const ExactSum& other) {
  ExactSum o = other;
  o.Normalize();
  Normalize();
  for (int i = 0; i < kLimbs; ++i) limbs_[i] += o.limbs_[i];
  pending_ = 2;
  pos_inf_ += o.pos_inf_;
  neg_inf_ += o.neg_inf_;
  nan_ = nan_ || o.nan_;
}

void ExactSum::Normalize() {
  for (int i = 0; i + 1 < kLimbs; ++i) {
    const int64_t carry = limbs_[i] >> 32;  // floor division by 2^32
    limbs_[i] -= carry * (int64_t{1} << 32);
    limbs_[i + 1] += carry;
  }
  pending_ = 0;
}

void ExactSum::Value(double* hi, double* lo) const {
  *lo = 0.0;
  if (nan_ || (pos_inf_ > 0 && neg_inf_ > 0)) {
    *hi = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (pos_inf_ > 0 || neg_inf_ > 0) {
    *hi = pos_inf_ > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    return;
  }
  ExactSum c = *this;
  c.Normalize();
  const bool negative = c.limbs_[kLimbs - 1] < 0;
  if (negative) {
    for (int64_t& l : c.limbs_) l = -l;
    c.Normalize();
  }
  int top = kLimbs - 1;
  while (top >= 0 && c.limbs_[top] == 0) --top;
  if (top < 0) {
    *hi = 0.0;
    return;
  }
  // The top four limbs (128 bits) in units of limb `base`; every term is an
  // exact double, the pair (s, e) carries about 106 bits of their sum.
  const int base = top >= 3 ? top - 3 : 0;
  double s = 0.0, e = 0.0;
  for (int i = top; i >= base; --i) {
    double t, err;
    TwoSum(s, std::ldexp(static_cast<double>(c.limbs_[i]), 32 * (i - base)), &t, &err);
    s = t;
    e += err;
  }
  double h, l;
  TwoSum(s, e, &h, &l);
  const int scale = 32 * base - 1074;
  *hi = std::ldexp(h, scale);
  *lo = std::ldexp(l, scale);
  if (negative) {
    *hi = -*hi;
    *lo = -*lo;
  }
}

double ExactSum::Value() const {
  double hi, lo;
  Value(&hi, &lo);
  return hi + lo;
}

}  // namespace eoscale::filters
