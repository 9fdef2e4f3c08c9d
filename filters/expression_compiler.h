// Internal to filters/: the Expression filter's front end: tokenizes and
// parses an expression (a Pratt parser over muparser's grammar) into a DAG of
// operations, sharing identical subexpressions and folding constant ones.
// expression.cc turns the DAG into a program and evaluates it. Not installed.
#ifndef EOSCALE_FILTERS_EXPRESSION_COMPILER_H_
#define EOSCALE_FILTERS_EXPRESSION_COMPILER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/filters/expression_ops.h"

namespace eoscale::filters::internal {

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

// A parsed expression: its DAG (every node created after its operands), the
// variables it reads, and the node of its result.
struct ParsedExpression {
  std::vector<Node> nodes;
  std::vector<VarRef> vars;
  int root = -1;
};

// Parses `expr`; InvalidArgument (with the position) if it is not valid.
absl::StatusOr<ParsedExpression> ParseExpression(const std::string& expr);

}  // namespace eoscale::filters::internal

#endif  // EOSCALE_FILTERS_EXPRESSION_COMPILER_H_
