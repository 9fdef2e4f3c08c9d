// Band-math formulas with named inputs ("(A.b2 - A.b4) / (A.b2 + A.b4)",
// GDAL-calc style) translated into the Expression filter's OTB syntax
// ("im1b2"), which stays usable as is. Errors of the filter are mapped back
// onto the formula the user typed.
#ifndef EOSCALE_CLI_FORMULA_H_
#define EOSCALE_CLI_FORMULA_H_

#include <functional>
#include <string>
#include <vector>

namespace eoscale::cli {

struct Formula {
  std::string original;    // as typed
  std::string translated;  // in the Expression filter's syntax
  // For each character of `translated`, the position in `original` it came
  // from (a translated name maps to the name's first character).
  std::vector<int> origin;
};

// Translates `NAME.bJ` into imIbJ and a bare `NAME` into imIb1, where I =
// resolve(NAME) (1-based). resolve returns 0 for a name that is not an
// input: `NAME.bJ` is then a UsageError naming it and `known` (a list of
// the input names, for the message); a bare unknown name is left for the
// filter (a function, a constant, imIbJ, or the filter's own error).
Formula TranslateFormula(const std::string& formula, const std::function<int(const std::string&)>& resolve,
                         const std::string& known);

// `message` (an error of the Expression filter about f.translated) with the
// formula and the positions it quotes put back in the user's terms.
std::string MapFormulaError(const std::string& message, const Formula& f);

// True when `name` can name an input in a formula: an identifier
// ([A-Za-z_][A-Za-z0-9_]*) that is neither imIbJ, idxX, idxY, nor one of
// the filter's functions, constants or words (and, or).
bool ValidInputName(const std::string& name);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_FORMULA_H_
