#include "eoscale/filters/expression.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eoscale/core/row_loop.h"
#include "eoscale/filters/expression_compiler.h"
#include "eoscale/filters/expression_ops.h"

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
// Files: expression_ops.h (the operations and their value on one pixel),
// expression_compiler.{h,cc} (tokenizer, parser, DAG), this file (the row
// kernels, the program over registers, its evaluation, the public API).

namespace eoscale::filters {
namespace {

using internal::Arity;
using internal::kNumOps;
using internal::Node;
using internal::Op;
using internal::ParsedExpression;
using internal::ParseExpression;
using internal::Scalar;
using internal::VarRef;

// Pixels per register. 256 doubles = 2 KiB: a program's registers stay in
// the L1/L2 cache while it runs over one chunk.
constexpr int kChunk = 256;

// ---------------------------------------------------------------------------
// Row kernels.

// The row loops below are compiled twice, for x86-64's baseline (SSE2) and
// for AVX2 (twice as many doubles per instruction), and the loader picks the
// one the CPU runs (GCC/Clang function multiversioning). Each loop applies
// one IEEE operation or one libm call per element, so both versions give the
// same bits (EOSCALE_ROW_LOOP, eoscale/core/row_loop.h).

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

template <size_t... I>
constexpr std::array<KernelFn, sizeof...(I)> MakeKernels(std::index_sequence<I...>) {
  return {&Kernel<static_cast<Op>(I)>...};
}
constexpr std::array<KernelFn, kNumOps> kKernels = MakeKernels(std::make_index_sequence<kNumOps>());

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
void Generate(const ParsedExpression& c, Program* p) {
  const std::vector<Node>& nodes = c.nodes;
  const int count = static_cast<int>(nodes.size());
  std::vector<char> live(count, 0);
  live[c.root] = 1;
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
  last_use[c.root] = count;  // never freed
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
  p->result = reg[c.root];
}

absl::StatusOr<std::shared_ptr<Program>> Compile(const std::string& expr) {
  absl::StatusOr<ParsedExpression> parsed = ParseExpression(expr);
  if (!parsed.ok()) return parsed.status();
  const ParsedExpression& c = *parsed;
  auto p = std::make_shared<Program>();
  p->expr = expr;
  p->refs = c.vars;
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

  // Registers start on a 64-byte line (kChunk doubles keep every next one
  // there): where malloc put the vector used to decide whether every vector
  // load and store of the row kernels was split across lines (10 % of the
  // filter's time, measured after an unrelated change moved it).
  constexpr size_t kLine = 64 / sizeof(double);
  static_assert(kChunk % kLine == 0);
  std::vector<double>& scratch = t.GetScratch<Registers>().values;
  const size_t need = static_cast<size_t>(p.registers) * kChunk + kLine;
  if (scratch.size() < need) scratch.resize(need);
  const uintptr_t at = reinterpret_cast<uintptr_t>(scratch.data());
  double* const regs = scratch.data() + ((64 - at % 64) % 64) / sizeof(double);
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