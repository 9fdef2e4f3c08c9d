#include "eoscale/filters/expression.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numbers>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

// How it works. The expression is parsed (a Pratt parser over muparser's
// grammar) straight into a DAG of operations: identical subexpressions are
// shared, operations whose arguments are all constants are folded. The DAG
// is then flattened into a short program over "registers", each an array of
// kChunk doubles; every instruction applies one operation to whole arrays
// (a tight loop the compiler vectorises), so the per-operation dispatch is
// paid once per chunk of up to kChunk pixels, never per pixel. A tile is
// evaluated row by row, in chunks of at most kChunk pixels of a row: loads
// convert input samples to double, the program runs, a store converts the
// result register to the output type.

namespace eoscale::filters {
namespace {

// Pixels per register. 256 doubles = 2 KiB: a program's registers stay in
// the L1/L2 cache while it runs over one chunk.
constexpr int kChunk = 256;
// Deeper nesting than this (parentheses, unary signs, right-associative
// chains) is refused rather than risking the stack.
constexpr int kMaxDepth = 256;

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

// The row loops below are compiled twice, for x86-64's baseline (SSE2) and
// for AVX2 (twice as many doubles per instruction), and the loader picks the
// one the CPU runs (GCC/Clang function multiversioning). Each loop applies
// one IEEE operation or one libm call per element, so both versions give the
// same bits.
// Clang (14) does not multiversion function templates: one baseline version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(EOSCALE_NO_TARGET_CLONES)
#define EOSCALE_ROW_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define EOSCALE_ROW_LOOP
#endif

// d[i] = op(a[i], b[i], c[i]) for i < n. `d` never aliases an operand (the
// register allocator guarantees it), which lets the compiler vectorise
// without runtime overlap checks.
using KernelFn = void (*)(double* __restrict d, const double* a, const double* b, const double* c,
                          int n);

template <Op kOp>
EOSCALE_ROW_LOOP void Kernel(double* __restrict d, const double* a, const double* b, const double* c, int n) {
  constexpr int arity = Arity(kOp);
  if constexpr (arity == 1) {
    for (int i = 0; i < n; ++i) d[i] = Scalar<kOp>(a[i], 0.0, 0.0);
  } else if constexpr (arity == 2) {
    for (int i = 0; i < n; ++i) d[i] = Scalar<kOp>(a[i], b[i], 0.0);
  } else if constexpr (arity == 3) {
    for (int i = 0; i < n; ++i) d[i] = Scalar<kOp>(a[i], b[i], c[i]);
  }
}

using ScalarFn = double (*)(double, double, double);

template <size_t... I>
constexpr std::array<KernelFn, sizeof...(I)> MakeKernels(std::index_sequence<I...>) {
  return {&Kernel<static_cast<Op>(I)>...};
}
template <size_t... I>
constexpr std::array<ScalarFn, sizeof...(I)> MakeScalars(std::index_sequence<I...>) {
  return {&Scalar<static_cast<Op>(I)>...};
}
constexpr std::array<KernelFn, kNumOps> kKernels = MakeKernels(std::make_index_sequence<kNumOps>());
constexpr std::array<ScalarFn, kNumOps> kScalars = MakeScalars(std::make_index_sequence<kNumOps>());

// Converts n samples of type T to double.
using LoadFn = void (*)(const void* src, double* __restrict d, int n);
template <typename T>
EOSCALE_ROW_LOOP void LoadRow(const void* src, double* __restrict d, int n) {
  const T* s = static_cast<const T*>(src);
  for (int i = 0; i < n; ++i) d[i] = static_cast<double>(s[i]);
}

// Converts n doubles to type T with Cast's semantics (ConvertSample in
// sample.h), written so that the loop vectorises.
using StoreFn = void (*)(const double* s, void* dst, int n);
template <typename T>
EOSCALE_ROW_LOOP void StoreRow(const double* s, void* dst, int n) {
  T* d = static_cast<T*>(dst);
  if constexpr (std::is_floating_point_v<T>) {
    for (int i = 0; i < n; ++i) d[i] = static_cast<T>(s[i]);
  } else {
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    for (int i = 0; i < n; ++i) {
      double v = s[i] == s[i] ? s[i] : 0.0;  // NaN -> 0
      v = v < lo ? lo : (v > hi ? hi : v);
      d[i] = static_cast<T>(static_cast<int64_t>(v));  // truncates toward zero
    }
  }
}

// ---------------------------------------------------------------------------
// Parsing into a DAG.

// One variable imIbJ, numbered as written (from 1).
struct VarRef {
  int image = 0;
  int band = 0;
  int position = 0;  // of its first occurrence
};

struct Node {
  Op op = Op::kConst;
  int a = -1, b = -1, c = -1;  // operand nodes
  double value = 0;            // kConst
  int var = -1;                // kVar: index into the variable table
};

enum class Tok { kNumber, kName, kOperator, kLParen, kRParen, kComma, kQuestion, kColon, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  int pos = 0;
  double number = 0;
};

// muparser's built-in functions, OTB's ndvi, and pow (an extension: muparser
// only has ^).
enum class Variadic { kNone, kMin, kMax, kSum, kAvg };
struct Function {
  Op op = Op::kConst;
  int arity = 1;
  Variadic variadic = Variadic::kNone;
};

const absl::flat_hash_map<std::string, Function>& Functions() {
  static const auto* functions = new absl::flat_hash_map<std::string, Function>{
      {"abs", {Op::kAbs, 1}},       {"sqrt", {Op::kSqrt, 1}},     {"exp", {Op::kExp, 1}},
      {"log", {Op::kLog, 1}},       {"ln", {Op::kLog, 1}},        {"log2", {Op::kLog2, 1}},
      {"log10", {Op::kLog10, 1}},   {"sin", {Op::kSin, 1}},       {"cos", {Op::kCos, 1}},
      {"tan", {Op::kTan, 1}},       {"asin", {Op::kAsin, 1}},     {"acos", {Op::kAcos, 1}},
      {"atan", {Op::kAtan, 1}},     {"sinh", {Op::kSinh, 1}},     {"cosh", {Op::kCosh, 1}},
      {"tanh", {Op::kTanh, 1}},     {"asinh", {Op::kAsinh, 1}},   {"acosh", {Op::kAcosh, 1}},
      {"atanh", {Op::kAtanh, 1}},   {"sign", {Op::kSign, 1}},     {"rint", {Op::kRint, 1}},
      {"atan2", {Op::kAtan2, 2}},   {"pow", {Op::kPow, 2}},       {"ndvi", {Op::kNdvi, 2}},
      {"NDVI", {Op::kNdvi, 2}},
      {"min", {Op::kMin, -1, Variadic::kMin}},
      {"max", {Op::kMax, -1, Variadic::kMax}},
      {"sum", {Op::kAdd, -1, Variadic::kSum}},
      {"avg", {Op::kAdd, -1, Variadic::kAvg}},
  };
  return *functions;
}

// OTB's constants (otbMath.h) and muparser's.
const absl::flat_hash_map<std::string, double>& Constants() {
  static const auto* constants = new absl::flat_hash_map<std::string, double>{
      {"e", std::numbers::e},         {"log2e", std::numbers::log2e},
      {"log10e", std::numbers::log10e}, {"ln2", std::numbers::ln2},
      {"ln10", std::numbers::ln10},   {"pi", std::numbers::pi},
      {"euler", std::numbers::egamma}, {"_pi", std::numbers::pi},
      {"_e", std::numbers::e},
  };
  return *constants;
}

bool IsNameStart(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
bool IsNameChar(char ch) { return IsNameStart(ch) || (ch >= '0' && ch <= '9'); }
bool IsDigit(char ch) { return ch >= '0' && ch <= '9'; }

// Parses "im<I>b<J>" (I, J decimal, no sign). False if `name` has another form.
bool ParseImageBand(const std::string& name, int* image, int* band, bool* overflow) {
  *overflow = false;
  if (name.size() < 5 || name[0] != 'i' || name[1] != 'm') return false;
  size_t i = 2;
  auto number = [&](int* out) {
    const size_t start = i;
    int64_t v = 0;
    while (i < name.size() && IsDigit(name[i])) {
      if (v <= 1000000) v = v * 10 + (name[i] - '0');  // stops growing once too large
      if (v > 1000000) *overflow = true;
      ++i;
    }
    *out = static_cast<int>(std::min<int64_t>(v, 1000001));
    return i > start;
  };
  if (!number(image)) return false;
  if (i >= name.size() || name[i] != 'b') return false;
  ++i;
  if (!number(band)) return false;
  return i == name.size();
}

class Compiler {
 public:
  explicit Compiler(const std::string& expr) : expr_(expr) {}

  // Parses the whole expression; on success root() is the result's node.
  absl::Status Parse() {
    if (absl::Status s = Lex(); !s.ok()) return s;
    if (tokens_.size() == 1) return Error("empty expression", 0, /*with_position=*/false);
    absl::StatusOr<int> root = ParseExpr(0, 0);
    if (!root.ok()) return root.status();
    if (Peek().kind != Tok::kEnd) return Unexpected(Peek());
    root_ = *root;
    return absl::OkStatus();
  }

  int root() const { return root_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<VarRef>& vars() const { return vars_; }

 private:
  absl::Status Error(const std::string& what, int pos, bool with_position = true) const {
    if (!with_position) return absl::InvalidArgumentError(absl::StrCat("expression '", expr_, "': ", what));
    return absl::InvalidArgumentError(
        absl::StrCat("expression '", expr_, "': ", what, " at position ", pos));
  }

  absl::Status Unexpected(const Token& t) const {
    switch (t.kind) {
      case Tok::kEnd: return Error("unexpected end of expression", t.pos);
      case Tok::kOperator: return Error(absl::StrCat("unexpected operator '", t.text, "'"), t.pos);
      default: return Error(absl::StrCat("unexpected '", t.text, "'"), t.pos);
    }
  }

  absl::Status Lex() {
    const std::string& s = expr_;
    size_t i = 0;
    while (i < s.size()) {
      const char ch = s[i];
      const int pos = static_cast<int>(i);
      if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
        ++i;
        continue;
      }
      Token t;
      t.pos = pos;
      if (IsDigit(ch) || (ch == '.' && i + 1 < s.size() && IsDigit(s[i + 1]))) {
        size_t j = i;
        while (j < s.size() && IsDigit(s[j])) ++j;
        if (j < s.size() && s[j] == '.') {
          ++j;
          while (j < s.size() && IsDigit(s[j])) ++j;
        }
        // An exponent only if digits follow: "2e" is 2 then the name e.
        if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
          size_t k = j + 1;
          if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
          if (k < s.size() && IsDigit(s[k])) {
            while (k < s.size() && IsDigit(s[k])) ++k;
            j = k;
          }
        }
        t.kind = Tok::kNumber;
        t.text = s.substr(i, j - i);
        const auto [end, ec] = std::from_chars(s.data() + i, s.data() + j, t.number);
        if (ec == std::errc::result_out_of_range) {
          return Error(absl::StrCat("number '", t.text, "' out of range"), pos);
        }
        if (ec != std::errc() || end != s.data() + j) {
          return Error(absl::StrCat("invalid number '", t.text, "'"), pos);
        }
        i = j;
      } else if (IsNameStart(ch)) {
        size_t j = i;
        while (j < s.size() && IsNameChar(s[j])) ++j;
        t.kind = Tok::kName;
        t.text = s.substr(i, j - i);
        i = j;
      } else {
        const std::string two = s.substr(i, 2);
        if (two == "<=" || two == ">=" || two == "==" || two == "!=" || two == "&&" || two == "||") {
          t.kind = Tok::kOperator;
          t.text = two;
          i += 2;
        } else if (ch == '+' || ch == '-' || ch == '*' || ch == '/' || ch == '^' || ch == '<' ||
                   ch == '>') {
          t.kind = Tok::kOperator;
          t.text = std::string(1, ch);
          ++i;
        } else if (ch == '(' || ch == ')' || ch == ',' || ch == '?' || ch == ':') {
          t.kind = ch == '(' ? Tok::kLParen
                   : ch == ')' ? Tok::kRParen
                   : ch == ',' ? Tok::kComma
                   : ch == '?' ? Tok::kQuestion
                               : Tok::kColon;
          t.text = std::string(1, ch);
          ++i;
        } else {
          return Error(absl::StrCat("unexpected character '", std::string(1, ch), "'"), pos);
        }
      }
      tokens_.push_back(std::move(t));
    }
    Token end;
    end.kind = Tok::kEnd;
    end.pos = static_cast<int>(s.size());
    tokens_.push_back(end);
    return absl::OkStatus();
  }

  const Token& Peek() const { return tokens_[next_]; }
  const Token& Take() { return tokens_[next_++]; }

  // Binding powers, loosest first. Left-associative operators parse their
  // right operand one level tighter; ^ and ?: are right-associative.
  static constexpr int kBpTernary = 1;
  static constexpr int kBpWord = 2;  // OTB's "and", "or"
  static constexpr int kBpOr = 3;
  static constexpr int kBpAnd = 4;
  static constexpr int kBpCompare = 5;
  static constexpr int kBpAdd = 6;
  static constexpr int kBpMul = 7;
  static constexpr int kBpUnary = 8;
  static constexpr int kBpPow = 9;

  // The infix operator at the current token, if any: its binding power and op.
  bool Infix(const Token& t, int* bp, Op* op) const {
    if (t.kind == Tok::kQuestion) {
      *bp = kBpTernary;
      *op = Op::kSelect;
      return true;
    }
    if (t.kind == Tok::kName) {
      if (t.text == "and") *op = Op::kAnd;
      else if (t.text == "or") *op = Op::kOr;
      else return false;
      *bp = kBpWord;
      return true;
    }
    if (t.kind != Tok::kOperator) return false;
    static const auto* ops = new absl::flat_hash_map<std::string, std::pair<int, Op>>{
        {"||", {kBpOr, Op::kOr}},       {"&&", {kBpAnd, Op::kAnd}},     {"<", {kBpCompare, Op::kLt}},
        {">", {kBpCompare, Op::kGt}},   {"<=", {kBpCompare, Op::kLe}},  {">=", {kBpCompare, Op::kGe}},
        {"==", {kBpCompare, Op::kEq}},  {"!=", {kBpCompare, Op::kNe}},  {"+", {kBpAdd, Op::kAdd}},
        {"-", {kBpAdd, Op::kSub}},      {"*", {kBpMul, Op::kMul}},      {"/", {kBpMul, Op::kDiv}},
        {"^", {kBpPow, Op::kPow}},
    };
    const auto it = ops->find(t.text);
    if (it == ops->end()) return false;
    *bp = it->second.first;
    *op = it->second.second;
    return true;
  }

  absl::StatusOr<int> ParseExpr(int min_bp, int depth) {
    if (depth > kMaxDepth) return Error("expression nested too deeply", Peek().pos);
    absl::StatusOr<int> lhs = ParsePrefix(depth);
    if (!lhs.ok()) return lhs.status();
    int left = *lhs;
    for (;;) {
      const Token& t = Peek();
      int bp = 0;
      Op op = Op::kConst;
      if (!Infix(t, &bp, &op) || bp < min_bp) break;
      const int op_pos = t.pos;
      Take();
      if (op == Op::kSelect) {
        absl::StatusOr<int> then = ParseExpr(kBpTernary, depth + 1);
        if (!then.ok()) return then.status();
        if (Peek().kind != Tok::kColon) {
          if (Peek().kind == Tok::kEnd) {
            return Error(absl::StrCat("'?' at position ", op_pos, " has no ':'"), Peek().pos);
          }
          return Error(absl::StrCat("expected ':' of the '?' at position ", op_pos, ", found '",
                                    Peek().text, "'"),
                       Peek().pos);
        }
        Take();
        absl::StatusOr<int> otherwise = ParseExpr(kBpTernary, depth + 1);
        if (!otherwise.ok()) return otherwise.status();
        left = Apply(Op::kSelect, left, *then, *otherwise);
        continue;
      }
      const int rbp = op == Op::kPow ? bp : bp + 1;
      absl::StatusOr<int> rhs = ParseExpr(rbp, depth + 1);
      if (!rhs.ok()) return rhs.status();
      left = op == Op::kPow ? Power(left, *rhs) : Apply(op, left, *rhs);
    }
    return left;
  }

  absl::StatusOr<int> ParsePrefix(int depth) {
    const Token t = Take();
    switch (t.kind) {
      case Tok::kNumber: return Constant(t.number);
      case Tok::kLParen: {
        absl::StatusOr<int> inner = ParseExpr(0, depth + 1);
        if (!inner.ok()) return inner.status();
        if (Peek().kind != Tok::kRParen) {
          if (Peek().kind == Tok::kEnd) {
            return Error(absl::StrCat("missing ')' for the '(' at position ", t.pos), Peek().pos);
          }
          return Error(absl::StrCat("expected ')' for the '(' at position ", t.pos, ", found '",
                                    Peek().text, "'"),
                       Peek().pos);
        }
        Take();
        return inner;
      }
      case Tok::kOperator:
        if (t.text == "-" || t.text == "+") {
          absl::StatusOr<int> operand = ParseExpr(kBpUnary + 1, depth + 1);
          if (!operand.ok()) return operand.status();
          return t.text == "-" ? Apply(Op::kNeg, *operand) : *operand;
        }
        return Unexpected(t);
      case Tok::kName: return ParseName(t, depth);
      default: return Unexpected(t);
    }
  }

  absl::StatusOr<int> ParseName(const Token& t, int depth) {
    if (Peek().kind == Tok::kLParen) return ParseCall(t, depth);
    if (Functions().contains(t.text)) {
      return Error(absl::StrCat("function '", t.text, "' needs its arguments in parentheses"), t.pos);
    }
    int image = 0, band = 0;
    bool overflow = false;
    if (ParseImageBand(t.text, &image, &band, &overflow)) {
      if (image < 1 || band < 1) {
        return Error(absl::StrCat("'", t.text, "': images and bands are numbered from 1"), t.pos);
      }
      if (overflow) return Error(absl::StrCat("'", t.text, "': number too large"), t.pos);
      return Variable(image, band, t.pos);
    }
    if (t.text == "idxX") return Intern(Node{.op = Op::kIdxX});
    if (t.text == "idxY") return Intern(Node{.op = Op::kIdxY});
    if (const auto it = Constants().find(t.text); it != Constants().end()) return Constant(it->second);
    return Error(absl::StrCat("unknown variable '", t.text, "'"), t.pos);
  }

  absl::StatusOr<int> ParseCall(const Token& name, int depth) {
    const auto it = Functions().find(name.text);
    if (it == Functions().end()) return Error(absl::StrCat("unknown function '", name.text, "'"), name.pos);
    const Function& f = it->second;
    const Token open = Take();  // '('
    std::vector<int> args;
    if (Peek().kind != Tok::kRParen) {
      for (;;) {
        absl::StatusOr<int> arg = ParseExpr(0, depth + 1);
        if (!arg.ok()) return arg.status();
        args.push_back(*arg);
        if (Peek().kind == Tok::kComma) {
          Take();
          continue;
        }
        break;
      }
    }
    if (Peek().kind != Tok::kRParen) {
      if (Peek().kind == Tok::kEnd) {
        return Error(absl::StrCat("missing ')' for the '(' at position ", open.pos), Peek().pos);
      }
      return Error(absl::StrCat("expected ',' or ')' in the call of '", name.text, "', found '",
                                Peek().text, "'"),
                   Peek().pos);
    }
    Take();
    const int n = static_cast<int>(args.size());
    if (f.arity < 0 && n == 0) {
      return Error(absl::StrCat("function '", name.text, "' takes at least 1 argument, got 0"), name.pos);
    }
    if (f.arity >= 0 && n != f.arity) {
      return Error(absl::StrCat("function '", name.text, "' takes ", f.arity,
                                f.arity == 1 ? " argument" : " arguments", ", got ", n),
                   name.pos);
    }
    switch (f.variadic) {
      case Variadic::kMin:
      case Variadic::kMax: {
        int acc = args[0];
        for (int i = 1; i < n; ++i) acc = Apply(f.op, acc, args[i]);
        return acc;
      }
      case Variadic::kSum:
      case Variadic::kAvg: {
        // muparser sums from 0 (so sum(-0) is +0), then divides by the count.
        int acc = Constant(0.0);
        for (int i = 0; i < n; ++i) acc = Apply(Op::kAdd, acc, args[i]);
        if (f.variadic == Variadic::kAvg) acc = Apply(Op::kDiv, acc, Constant(n));
        return acc;
      }
      case Variadic::kNone: break;
    }
    if (f.op == Op::kPow) return Power(args[0], args[1]);
    return f.arity == 1 ? Apply(f.op, args[0]) : Apply(f.op, args[0], args[1]);
  }

  // ---- DAG construction ----

  struct Key {
    Op op;
    int a, b, c, var;
    uint64_t bits;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.op, k.a, k.b, k.c, k.var, k.bits);
    }
  };

  int Intern(const Node& n) {
    const Key key{n.op, n.a, n.b, n.c, n.var, std::bit_cast<uint64_t>(n.value)};
    const auto [it, inserted] = interned_.try_emplace(key, static_cast<int>(nodes_.size()));
    if (inserted) nodes_.push_back(n);
    return it->second;
  }

  int Constant(double v) { return Intern(Node{.op = Op::kConst, .value = v}); }

  int Variable(int image, int band, int pos) {
    int index = -1;
    for (size_t i = 0; i < vars_.size(); ++i) {
      if (vars_[i].image == image && vars_[i].band == band) index = static_cast<int>(i);
    }
    if (index < 0) {
      index = static_cast<int>(vars_.size());
      vars_.push_back({image, band, pos});
    }
    return Intern(Node{.op = Op::kVar, .var = index});
  }

  bool IsConst(int n) const { return nodes_[n].op == Op::kConst; }

  int Apply(Op op, int a, int b = -1, int c = -1) {
    const int arity = Arity(op);
    if (op == Op::kSelect && IsConst(a)) return nodes_[a].value != 0 ? b : c;
    bool all_const = true;
    for (int k : {a, b, c}) {
      if (k >= 0 && !IsConst(k)) all_const = false;
    }
    if (all_const) {
      const double va = nodes_[a].value;
      const double vb = arity >= 2 ? nodes_[b].value : 0.0;
      const double vc = arity >= 3 ? nodes_[c].value : 0.0;
      return Constant(kScalars[static_cast<size_t>(op)](va, vb, vc));
    }
    return Intern(Node{.op = op, .a = a, .b = b, .c = c});
  }

  // x^2 is x*x (exactly what pow gives, without calling it).
  int Power(int base, int exponent) {
    if (!IsConst(base) && IsConst(exponent) && nodes_[exponent].value == 2.0) {
      return Apply(Op::kMul, base, base);
    }
    return Apply(Op::kPow, base, exponent);
  }

  const std::string& expr_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  std::vector<Node> nodes_;
  absl::flat_hash_map<Key, int> interned_;
  std::vector<VarRef> vars_;
  int root_ = -1;
};

// ---------------------------------------------------------------------------
// The compiled program.

struct Instr {
  Op op;
  KernelFn fn;  // for computed ops
  int dst;
  int a = -1, b = -1, c = -1;  // operand registers
  int var = -1;                // kVar
};

struct VarSlot {
  int input;  // 0-based input index
  int band;   // 0-based band of the input's view
};

// Immutable once built; shared by every copy of the filter and every thread.
struct Program {
  std::string expr;
  std::vector<VarRef> refs;  // every variable written, as written
  std::vector<VarSlot> slots;  // per variable of the table: where it is read
  std::vector<Instr> code;
  std::vector<std::pair<int, double>> constants;  // register, value
  int registers = 0;
  int result = 0;
  int max_image = 0;
};

// Flattens the DAG reachable from the root into instructions and assigns
// registers: constants get their own registers (filled once per tile), other
// nodes reuse a register once its last reader has run. An instruction's
// destination is always distinct from its operands.
void Generate(const Compiler& c, Program* p) {
  const std::vector<Node>& nodes = c.nodes();
  const int count = static_cast<int>(nodes.size());
  std::vector<char> live(count, 0);
  live[c.root()] = 1;
  // Nodes are created after their operands: a reverse sweep marks reachability.
  for (int i = count - 1; i >= 0; --i) {
    if (!live[i]) continue;
    for (int k : {nodes[i].a, nodes[i].b, nodes[i].c}) {
      if (k >= 0) live[k] = 1;
    }
  }
  std::vector<int> last_use(count, -1);
  for (int i = 0; i < count; ++i) {
    if (!live[i]) continue;
    for (int k : {nodes[i].a, nodes[i].b, nodes[i].c}) {
      if (k >= 0) last_use[k] = i;
    }
  }
  last_use[c.root()] = count;  // never freed
  std::vector<int> reg(count, -1);
  int next_reg = 0;
  for (int i = 0; i < count; ++i) {
    if (live[i] && nodes[i].op == Op::kConst) {
      reg[i] = next_reg++;
      p->constants.emplace_back(reg[i], nodes[i].value);
    }
  }
  std::vector<int> free_regs;
  for (int i = 0; i < count; ++i) {
    const Node& n = nodes[i];
    if (!live[i] || n.op == Op::kConst) continue;
    if (free_regs.empty()) {
      reg[i] = next_reg++;
    } else {
      reg[i] = free_regs.back();
      free_regs.pop_back();
    }
    Instr in{.op = n.op, .fn = kKernels[static_cast<size_t>(n.op)], .dst = reg[i]};
    in.a = n.a >= 0 ? reg[n.a] : -1;
    in.b = n.b >= 0 ? reg[n.b] : -1;
    in.c = n.c >= 0 ? reg[n.c] : -1;
    in.var = n.var;
    p->code.push_back(in);
    absl::InlinedVector<int, 3> released;
    for (int k : {n.a, n.b, n.c}) {
      if (k < 0 || nodes[k].op == Op::kConst || last_use[k] != i) continue;
      if (std::find(released.begin(), released.end(), k) != released.end()) continue;
      released.push_back(k);
      free_regs.push_back(reg[k]);
    }
  }
  p->registers = next_reg;
  p->result = reg[c.root()];
}

absl::StatusOr<std::shared_ptr<Program>> Compile(const std::string& expr) {
  Compiler c(expr);
  if (absl::Status s = c.Parse(); !s.ok()) return s;
  auto p = std::make_shared<Program>();
  p->expr = expr;
  p->refs = c.vars();
  for (const VarRef& r : p->refs) p->max_image = std::max(p->max_image, r.image);
  Generate(c, p.get());
  return p;
}

// Per-worker scratch: the registers, grown to the largest program the
// worker runs for the node.
struct Registers {
  std::vector<double> values;
};

// Evaluates the program over one tile. Thread-safe: the program is only
// read; the registers are this worker's.
absl::Status Evaluate(const Program& p, const MapTile& t) {
  const View& out = t.outputs[0];
  const int rows = out.rows();
  const int cols = out.cols();
  // Per variable: its loader, and its band's row 0 in tile coordinates (x = 0
  // at the stable window's first column) with the distance between rows.
  absl::InlinedVector<LoadFn, 16> loads(p.slots.size());
  absl::InlinedVector<size_t, 16> sizes(p.slots.size());
  absl::InlinedVector<const std::byte*, 16> row0(p.slots.size());
  absl::InlinedVector<int64_t, 16> row_bytes(p.slots.size());
  for (size_t v = 0; v < p.slots.size(); ++v) {
    const VarSlot& s = p.slots[v];
    if (s.input >= static_cast<int>(t.inputs.size()) || s.band >= t.inputs[s.input].bands()) {
      return absl::InternalError(absl::StrCat("expression '", p.expr, "': input ", s.input + 1,
                                              " has no band ", s.band + 1, " in this tile"));
    }
    DispatchPixelType(t.inputs[s.input].type(), [&]<typename T>() {
      const ConstTileView<T> in = t.In<T>(s.input);
      loads[v] = &LoadRow<T>;
      sizes[v] = sizeof(T);
      row0[v] = reinterpret_cast<const std::byte*>(in.Row(s.band, 0));
      row_bytes[v] = in.row_stride() * static_cast<int64_t>(sizeof(T));
    });
  }
  const StoreFn store = DispatchPixelType(out.type(), []<typename T>() -> StoreFn { return &StoreRow<T>; });
  const size_t out_size = PixelSize(out.type());

  std::vector<double>& scratch = t.GetScratch<Registers>().values;
  const size_t need = static_cast<size_t>(p.registers) * kChunk;
  if (scratch.size() < need) scratch.resize(need);
  double* const regs = scratch.data();
  auto reg = [regs](int r) { return r < 0 ? nullptr : regs + static_cast<size_t>(r) * kChunk; };
  for (const auto& [r, value] : p.constants) std::fill_n(reg(r), kChunk, value);

  for (int y = 0; y < rows; ++y) {
    for (int x0 = 0; x0 < cols; x0 += kChunk) {
      const int n = std::min(kChunk, cols - x0);
      for (const Instr& in : p.code) {
        double* d = reg(in.dst);
        switch (in.op) {
          case Op::kVar: {
            loads[in.var](row0[in.var] + y * row_bytes[in.var] + x0 * sizes[in.var], d, n);
            break;
          }
          case Op::kIdxX: {
            const double x = t.tile.window.x + x0;
            for (int i = 0; i < n; ++i) d[i] = x + i;
            break;
          }
          case Op::kIdxY: std::fill_n(d, n, static_cast<double>(t.tile.window.y + y)); break;
          default: in.fn(d, reg(in.a), reg(in.b), reg(in.c), n);
        }
      }
      store(reg(p.result), static_cast<std::byte*>(out.RowPtr(0, y)) + x0 * out_size, n);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::vector<int>>> ExpressionBands(const std::string& expr) {
  absl::StatusOr<std::shared_ptr<Program>> p = Compile(expr);
  if (!p.ok()) return p.status();
  std::vector<std::vector<int>> bands((*p)->max_image);
  for (const VarRef& r : (*p)->refs) bands[r.image - 1].push_back(r.band);
  for (std::vector<int>& b : bands) {
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
  }
  return bands;
}

absl::StatusOr<MapFilter> Expression(std::string expr, PixelType out, ExpressionOptions options) {
  absl::StatusOr<std::shared_ptr<Program>> compiled = Compile(expr);
  if (!compiled.ok()) return compiled.status();
  std::shared_ptr<Program> p = *std::move(compiled);
  for (size_t i = 0; i < options.input_bands.size(); ++i) {
    for (int b : options.input_bands[i]) {
      if (b < 1) {
        return absl::InvalidArgumentError(absl::StrCat("expression '", expr, "': input_bands[", i,
                                                       "] lists band ", b, "; bands are numbered from 1"));
      }
    }
  }
  // Where each variable is read: band J of input I is the view's band J-1,
  // or, when the input was opened on a band subset, the position of J in it.
  // Missing bands are left out of range here and reported by the profile
  // function, when the inputs are known.
  for (const VarRef& r : p->refs) {
    VarSlot s{r.image - 1, r.band - 1};
    if (s.input < static_cast<int>(options.input_bands.size()) && !options.input_bands[s.input].empty()) {
      const std::vector<int>& sel = options.input_bands[s.input];
      const auto it = std::find(sel.begin(), sel.end(), r.band);
      s.band = it == sel.end() ? std::numeric_limits<int>::max() : static_cast<int>(it - sel.begin());
    }
    p->slots.push_back(s);
  }

  MapFilter f;
  f.name = options.name;
  f.margin = 0;
  f.num_outputs = 1;
  f.profiles = [p, out, options](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    for (size_t v = 0; v < p->refs.size(); ++v) {
      const VarRef& r = p->refs[v];
      const std::string var = absl::StrCat("im", r.image, "b", r.band, " (position ", r.position, ")");
      if (r.image > static_cast<int>(in.size())) {
        return absl::InvalidArgumentError(absl::StrCat("expression '", p->expr, "': ", var,
                                                       " names input ", r.image, ", but the filter has ",
                                                       in.size(), in.size() == 1 ? " input" : " inputs"));
      }
      const Profile& ip = in[r.image - 1];
      const int i = r.image - 1;
      if (i < static_cast<int>(options.input_bands.size()) && !options.input_bands[i].empty()) {
        const std::vector<int>& sel = options.input_bands[i];
        if (static_cast<int>(sel.size()) != ip.bands) {
          return absl::InvalidArgumentError(absl::StrCat(
              "expression '", p->expr, "': input ", r.image, " has ", ip.bands,
              " bands, but input_bands lists ", sel.size(), " (", absl::StrJoin(sel, ", "), ")"));
        }
        if (p->slots[v].band >= ip.bands) {
          return absl::InvalidArgumentError(absl::StrCat("expression '", p->expr, "': ", var,
                                                         " names band ", r.band, " of input ", r.image,
                                                         ", which was opened on bands ",
                                                         absl::StrJoin(sel, ", ")));
        }
      } else if (r.band > ip.bands) {
        return absl::InvalidArgumentError(absl::StrCat("expression '", p->expr, "': ", var,
                                                       " names band ", r.band, " of input ", r.image,
                                                       ", which has ", ip.bands,
                                                       ip.bands == 1 ? " band" : " bands"));
      }
    }
    Profile o = in[0];
    o.bands = 1;
    o.type = out;
    o.nodata = options.nodata;
    return std::vector<Profile>{o};
  };
  f.fn = [p](const MapTile& t) { return Evaluate(*p, t); };
  return f;
}

}  // namespace eoscale::filters
