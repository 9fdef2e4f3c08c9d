// Command-line tokens and values: options in GDAL's conventions
// (`--long value` and `--long=value`, short `-i value`), and the parsers of
// the values the subcommands take (counts, memory sizes, windows, boxes,
// pixel types). Every error is a UsageError naming the argument, which the
// program reports with exit status 2.
#ifndef EOSCALE_CLI_ARGS_H_
#define EOSCALE_CLI_ARGS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eoscale/core/pixel_type.h"
#include "eoscale/core/tiling.h"

namespace eoscale::cli {

// A command line that cannot be run as given. Thrown by the parsers and
// caught once, in main, which prints "eoscale <command>: <message>" and
// exits 2. (Exceptions stay inside the CLI's own parsing: nothing of the
// engine runs while they may be thrown.)
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a list of tokens front to back. An option token is "--name",
// "--name=value", or "-x"; Value() returns the attached "=value" or else
// the next token.
class ArgReader {
 public:
  explicit ArgReader(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}
  bool Done() const { return pos_ >= tokens_.size(); }
  const std::string& Peek() const { return tokens_[pos_]; }
  // The next token, split: for "--co=A=B", name "--co" and inline value "A=B".
  // REQUIRES: !Done().
  std::string Next();
  // The value of the option just returned by Next(): its "=value", or the
  // next token (which may not be missing). `option` names it in errors.
  std::string Value(const std::string& option);
  // True when the option just read had "=value" attached (for flags, which
  // take none: "--overwrite=yes" is an error).
  bool HasInlineValue() const { return inline_value_.has_value(); }
  // The tokens not yet read.
  std::vector<std::string> Rest() const { return {tokens_.begin() + pos_, tokens_.end()}; }

 private:
  std::vector<std::string> tokens_;
  size_t pos_ = 0;
  std::optional<std::string> inline_value_;
};

// True for "-x" or "--xyz" (a lone "-" and negative numbers are not options).
bool LooksLikeOption(const std::string& token);

// Integers in [lo, hi]: "--workers abc", "--tile-size 0" are UsageErrors
// naming `option` and the value.
int64_t ParseInteger(const std::string& option, const std::string& value, int64_t lo, int64_t hi);
// A finite double.
double ParseNumber(const std::string& option, const std::string& value);
// "2GiB", "512MiB", "1.5 GB", "64KiB", "4096B": binary units (KiB, MiB, GiB,
// TiB) and decimal ones (KB, MB, GB, TB), case-insensitive; a unit is
// required. Must be positive.
int64_t ParseMemory(const std::string& option, const std::string& value);
// "col,row,width,height": width and height >= 1, col and row >= 0.
Window ParseWindow(const std::string& option, const std::string& value);
// "xmin,ymin,xmax,ymax", finite, xmin < xmax and ymin < ymax.
std::array<double, 4> ParseBox(const std::string& option, const std::string& value);
// GDAL's type names (Byte, Int8, UInt16, Int16, UInt32, Int32, Float32,
// Float64; any case) and the library's (u8, i16, float32...).
PixelType ParseOutputType(const std::string& option, const std::string& value);
// GDAL's name of a pixel type ("Float32").
const char* GdalTypeName(PixelType type);
// "2,4" -> {2, 4}; every band >= 1.
std::vector<int> ParseBandList(const std::string& option, const std::string& value);
// "KEY=VALUE" with a non-empty key.
std::string ParseKeyValue(const std::string& option, const std::string& value);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_ARGS_H_
