#include "eoscale/graph/scratch.h"

#include <cxxabi.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace eoscale {
namespace internal {
namespace {

std::string TypeName(const std::type_info& t) {
  int status = 0;
  char* name = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name != nullptr ? name : t.name();
  std::free(name);
  return out;
}

}  // namespace

void ThrowScratchTypeMismatch(const std::type_info& have, const std::type_info& want) {
  throw std::logic_error("per-worker scratch holds a " + TypeName(have) + " but was asked for a " + TypeName(want) +
                         " (a filter gets one scratch type: put several buffers in one struct)");
}

}  // namespace internal
}  // namespace eoscale
