// eoscale._eoscale.filters: the engine's built-in filters as Filter objects
// that Context.map takes.
#ifndef EOSCALE_PYTHON_FILTERS_H_
#define EOSCALE_PYTHON_FILTERS_H_

#include <pybind11/pybind11.h>

#include <vector>

#include "eoscale/graph/filter.h"

namespace eoscale::python {

// A native Map filter, opaque to Python.
struct NativeFilter {
  MapFilter filter;
};

void BindFilters(pybind11::module_& m);

}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_FILTERS_H_
