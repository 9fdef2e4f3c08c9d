// The Expression filter's front end (expression_compiler.h): the tokenizer,
// the Pratt parser over muparser's grammar, the tables of functions and
// constants, and the DAG construction (interning, constant folding).
#include "eoscale/filters/expression_compiler.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace eoscale::filters::internal {
namespace {

// Deeper nesting than this (parentheses, unary signs, right-associative
// chains) is refused rather than risking the stack.
constexpr int kMaxDepth = 256;

// ---------------------------------------------------------------------------
// Parsing into a DAG (VarRef and Node: expression_compiler.h).

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

}  // namespace

absl::StatusOr<ParsedExpression> ParseExpression(const std::string& expr) {
  Compiler c(expr);
  if (absl::Status s = c.Parse(); !s.ok()) return s;
  return ParsedExpression{c.nodes(), c.vars(), c.root()};
}

}  // namespace eoscale::filters::internal
