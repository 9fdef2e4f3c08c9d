// The Python Context: eoscale::Context plus what Python needs around it (the
// arrays it reads kept alive, the GIL released while it runs, one thread at
// a time).
#ifndef EOSCALE_PYTHON_CONTEXT_H_
#define EOSCALE_PYTHON_CONTEXT_H_

#include <pybind11/pybind11.h>

namespace eoscale::python {
void BindContext(pybind11::module_& m);
}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_CONTEXT_H_
