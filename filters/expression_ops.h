// Internal to filters/: the Expression filter's operations (expression.cc,
// expression_compiler.cc): the Op enum, each operation's arity, and its value
// on one pixel (Scalar), which both constant folding and the row kernels use.
// Header-only. Not installed.
#ifndef EOSCALE_FILTERS_EXPRESSION_OPS_H_
#define EOSCALE_FILTERS_EXPRESSION_OPS_H_

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace eoscale::filters::internal {

// ---------------------------------------------------------------------------
// Operations.

enum class Op : uint8_t {
  // Leaves.
  kConst, kVar, kIdxX, kIdxY,
  // Unary.
  kNeg, kAbs, kSqrt, kExp, kLog, kLog2, kLog10, kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh,
  kCosh, kTanh, kAsinh, kAcosh, kAtanh, kSign, kRint,
  // Binary.
  kAdd, kSub, kMul, kDiv, kPow, kLt, kGt, kLe, kGe, kEq, kNe, kAnd, kOr, kMin, kMax, kAtan2,
  kNdvi,
  // Ternary: a ? b : c.
  kSelect,
  kCount,
};
constexpr size_t kNumOps = static_cast<size_t>(Op::kCount);

constexpr int Arity(Op op) {
  if (op < Op::kNeg) return 0;
  if (op < Op::kAdd) return 1;
  if (op < Op::kSelect) return 2;
  return 3;
}

// The value of one operation on one pixel. The vector kernels and constant
// folding both use it, so a folded constant is bit for bit what the kernel
// would have computed. Semantics follow muparser's (BandMath's): rint rounds
// half up (floor(x + 0.5)); min and max are std::min and std::max folded left
// to right; logical operators and ?: take any non-zero value, NaN included,
// as true; ndvi is OTB's (0 when |r + nir| < 1e-6).
template <Op kOp>
inline double Scalar([[maybe_unused]] double a, [[maybe_unused]] double b,
                     [[maybe_unused]] double c) {
  if constexpr (kOp == Op::kNeg) return -a;
  else if constexpr (kOp == Op::kAbs) return std::fabs(a);
  else if constexpr (kOp == Op::kSqrt) return std::sqrt(a);
  else if constexpr (kOp == Op::kExp) return std::exp(a);
  else if constexpr (kOp == Op::kLog) return std::log(a);
  else if constexpr (kOp == Op::kLog2) return std::log2(a);
  else if constexpr (kOp == Op::kLog10) return std::log10(a);
  else if constexpr (kOp == Op::kSin) return std::sin(a);
  else if constexpr (kOp == Op::kCos) return std::cos(a);
  else if constexpr (kOp == Op::kTan) return std::tan(a);
  else if constexpr (kOp == Op::kAsin) return std::asin(a);
  else if constexpr (kOp == Op::kAcos) return std::acos(a);
  else if constexpr (kOp == Op::kAtan) return std::atan(a);
  else if constexpr (kOp == Op::kSinh) return std::sinh(a);
  else if constexpr (kOp == Op::kCosh) return std::cosh(a);
  else if constexpr (kOp == Op::kTanh) return std::tanh(a);
  else if constexpr (kOp == Op::kAsinh) return std::asinh(a);
  else if constexpr (kOp == Op::kAcosh) return std::acosh(a);
  else if constexpr (kOp == Op::kAtanh) return std::atanh(a);
  else if constexpr (kOp == Op::kSign) return a < 0 ? -1.0 : (a > 0 ? 1.0 : 0.0);
  else if constexpr (kOp == Op::kRint) return std::floor(a + 0.5);
  else if constexpr (kOp == Op::kAdd) return a + b;
  else if constexpr (kOp == Op::kSub) return a - b;
  else if constexpr (kOp == Op::kMul) return a * b;
  else if constexpr (kOp == Op::kDiv) return a / b;
  else if constexpr (kOp == Op::kPow) return std::pow(a, b);
  else if constexpr (kOp == Op::kLt) return a < b ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kGt) return a > b ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kLe) return a <= b ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kGe) return a >= b ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kEq) return a == b ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kNe) return a != b ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kAnd) return ((a != 0) & (b != 0)) ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kOr) return ((a != 0) | (b != 0)) ? 1.0 : 0.0;
  else if constexpr (kOp == Op::kMin) return b < a ? b : a;
  else if constexpr (kOp == Op::kMax) return a < b ? b : a;
  else if constexpr (kOp == Op::kAtan2) return std::atan2(a, b);
  else if constexpr (kOp == Op::kNdvi) return std::fabs(a + b) < 1e-6 ? 0.0 : (b - a) / (b + a);
  else if constexpr (kOp == Op::kSelect) return a != 0 ? b : c;
  else return 0.0;  // leaves are not computed by a kernel
}

using ScalarFn = double (*)(double, double, double);

template <size_t... I>
constexpr std::array<ScalarFn, sizeof...(I)> MakeScalars(std::index_sequence<I...>) {
  return {&Scalar<static_cast<Op>(I)>...};
}
inline constexpr std::array<ScalarFn, kNumOps> kScalars = MakeScalars(std::make_index_sequence<kNumOps>());

}  // namespace eoscale::filters::internal

#endif  // EOSCALE_FILTERS_EXPRESSION_OPS_H_
