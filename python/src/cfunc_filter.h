// Native tile functions from Python: a C function (a numba `cfunc`, or any
// function pointer) run as a Map filter on the engine's threads without the
// GIL (docs/python.md, "numba kernels").
#ifndef EOSCALE_PYTHON_CFUNC_FILTER_H_
#define EOSCALE_PYTHON_CFUNC_FILTER_H_

#include <pybind11/pybind11.h>

namespace eoscale::python {

// Adds eoscale._eoscale.filters.cfunc(address, dtype, count, num_outputs,
// margin, name, keep_alive) to `filters`.
void BindCFunc(pybind11::module_& filters);

}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_CFUNC_FILTER_H_
