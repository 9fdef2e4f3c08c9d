// eoscale._eoscale: the engine for Python (docs/python.md). The package
// `eoscale` (python/eoscale/) wraps it.
#include <pybind11/pybind11.h>

#include "context.h"
#include "filters.h"

PYBIND11_MODULE(_eoscale, m) {
  m.doc() = "EOScale C++ engine bindings (use the `eoscale` package)";
  eoscale::python::BindContext(m);
  eoscale::python::BindFilters(m);
}
