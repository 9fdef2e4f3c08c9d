#include "formula.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "args.h"

namespace eoscale::cli {

namespace {

bool NameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool NameChar(char c) { return NameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }
bool Digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// The end of the number starting at s[i] (the filter's lexer's rule).
size_t NumberEnd(const std::string& s, size_t i) {
  size_t j = i;
  while (j < s.size() && Digit(s[j])) ++j;
  if (j < s.size() && s[j] == '.') {
    ++j;
    while (j < s.size() && Digit(s[j])) ++j;
  }
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k < s.size() && Digit(s[k])) {
      while (k < s.size() && Digit(s[k])) ++k;
      j = k;
    }
  }
  return j;
}

bool IsImageBand(const std::string& n) {
  size_t i = 2;
  if (n.size() < 5 || n.compare(0, 2, "im") != 0) return false;
  const size_t a = i;
  while (i < n.size() && Digit(n[i])) ++i;
  if (i == a || i >= n.size() || n[i] != 'b') return false;
  const size_t b = ++i;
  while (i < n.size() && Digit(n[i])) ++i;
  return i > b && i == n.size();
}

}  // namespace

bool ValidInputName(const std::string& name) {
  if (name.empty() || !NameStart(name[0])) return false;
  for (char c : name) {
    if (!NameChar(c)) return false;
  }
  static const char* const kReserved[] = {
      "idxX", "idxY",  "and",  "or",   "pi",   "e",    "euler", "log2e", "log10e", "ln2",   "ln10",
      "_pi",  "_e",    "abs",  "sqrt", "exp",  "log",  "ln",    "log2",  "log10",  "sin",   "cos",
      "tan",  "asin",  "acos", "atan", "sinh", "cosh", "tanh",  "asinh", "acosh",  "atanh", "sign",
      "rint", "atan2", "ndvi", "pow",  "min",  "max",  "sum",   "avg"};
  for (const char* r : kReserved) {
    if (name == r) return false;
  }
  return !IsImageBand(name);
}

Formula TranslateFormula(const std::string& formula, const std::function<int(const std::string&)>& resolve,
                         const std::string& known) {
  Formula f;
  f.original = formula;
  auto emit = [&f](const std::string& text, int origin) {
    f.translated += text;
    f.origin.insert(f.origin.end(), text.size(), origin);
  };
  const std::string& s = formula;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (Digit(c) || (c == '.' && i + 1 < s.size() && Digit(s[i + 1]))) {
      const size_t j = NumberEnd(s, i);
      for (size_t k = i; k < j; ++k) emit(std::string(1, s[k]), static_cast<int>(k));
      i = j;
      continue;
    }
    if (!NameStart(c)) {
      emit(std::string(1, c), static_cast<int>(i));
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && NameChar(s[j])) ++j;
    const std::string name = s.substr(i, j - i);
    // NAME.bJ
    if (j + 2 < s.size() && s[j] == '.' && s[j + 1] == 'b' && Digit(s[j + 2])) {
      size_t k = j + 2;
      while (k < s.size() && Digit(s[k])) ++k;
      if (k >= s.size() || !NameChar(s[k])) {
        const int index = resolve(name);
        if (index == 0) {
          throw UsageError(absl::StrCat("formula '", formula, "': '", s.substr(i, k - i), "' at position ", i,
                                        " names input '", name, "', which is not one of ", known));
        }
        emit(absl::StrCat("im", index, "b", s.substr(j + 2, k - j - 2)), static_cast<int>(i));
        i = k;
        continue;
      }
    }
    if (j < s.size() && s[j] == '.' && j + 1 < s.size() && NameStart(s[j + 1])) {
      throw UsageError(absl::StrCat("formula '", formula, "': '", name, ".", "' at position ", i,
                                    " must be followed by bN (a band number), e.g. ", name, ".b1"));
    }
    const int index = ValidInputName(name) ? resolve(name) : 0;
    emit(index > 0 ? absl::StrCat("im", index, "b1") : name, static_cast<int>(i));
    i = j;
  }
  return f;
}

std::string MapFormulaError(const std::string& message, const Formula& f) {
  std::string m = message;
  if (f.original == f.translated) return m;
  const std::string quoted = "'" + f.translated + "'";
  for (size_t p = m.find(quoted); p != std::string::npos; p = m.find(quoted, p + f.original.size() + 2)) {
    m.replace(p, quoted.size(), "'" + f.original + "'");
  }
  // "position N" -> the user's position.
  std::string out;
  const std::string key = "position ";
  size_t i = 0;
  while (true) {
    const size_t p = m.find(key, i);
    if (p == std::string::npos) break;
    size_t j = p + key.size();
    size_t k = j;
    while (k < m.size() && Digit(m[k])) ++k;
    out += m.substr(i, j - i);
    if (k > j && k - j < 9) {
      const size_t n = std::stoul(m.substr(j, k - j));
      out += std::to_string(n < f.origin.size() ? f.origin[n] : static_cast<int>(f.original.size()));
    } else {
      out += m.substr(j, k - j);
    }
    i = k;
  }
  out += m.substr(i);
  return out;
}

}  // namespace eoscale::cli
