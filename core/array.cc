#include "eoscale/core/array.h"

#include <utility>

namespace eoscale {

Array::Array(Profile profile)
    : profile_(std::move(profile)),
      bytes_(static_cast<size_t>(profile_.ImageBytes())),
      data_(new std::byte[bytes_ > 0 ? bytes_ : 1]()) {}

}  // namespace eoscale
