// Minimal JSON output for `eoscale stats` and pipeline reductions: numbers
// that round-trip (%.17g), NaN and infinities as null, escaped strings.
#ifndef EOSCALE_CLI_JSON_H_
#define EOSCALE_CLI_JSON_H_

#include <string>

namespace eoscale::cli {

std::string JsonNumber(double v);
std::string JsonString(const std::string& s);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_JSON_H_
