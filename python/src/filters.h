// eoscale._eoscale.filters: the engine's built-in filters as Filter objects
// that Context.map takes.
#ifndef EOSCALE_PYTHON_FILTERS_H_
#define EOSCALE_PYTHON_FILTERS_H_

#include <pybind11/pybind11.h>

#include <any>
#include <functional>
#include <string>
#include <vector>

#include "eoscale/graph/context.h"
#include "eoscale/graph/filter.h"

namespace eoscale::python {

// A native Map filter, opaque to Python.
struct NativeFilter {
  MapFilter filter;
};

// The engine's side of a reduction, type-erased: runs or fetches its value
// (called without the GIL).
using AnyGetter = std::function<absl::StatusOr<std::any>()>;

// A native Reduce filter, opaque to Python: Context.reduce adds it.
struct NativeReduce {
  std::string name;
  std::function<absl::StatusOr<AnyGetter>(Context&, const std::vector<Image>&)> add;
  // The value as a Python object (called with the GIL).
  std::function<pybind11::object(const std::any&)> to_python;
};

void BindFilters(pybind11::module_& m);

}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_FILTERS_H_
