// eoscale._eoscale.filters: the engine's built-in filters as Filter objects
// that Context.map takes.
#ifndef EOSCALE_PYTHON_FILTERS_H_
#define EOSCALE_PYTHON_FILTERS_H_

#include <pybind11/pybind11.h>

#include <any>
#include <functional>
#include <string>
#include <utility>
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

// A NativeReduce over `filter` (a ReduceFilter<V>), whose value `to_python`
// converts (called with the GIL).
template <typename V>
NativeReduce MakeNativeReduce(ReduceFilter<V> filter, std::function<pybind11::object(const V&)> to_python) {
  NativeReduce r;
  r.name = filter.name;
  r.add = [filter = std::move(filter)](Context& ctx, const std::vector<Image>& in) -> absl::StatusOr<AnyGetter> {
    absl::StatusOr<Reduction<V>> red = ctx.Reduce(in, filter);
    if (!red.ok()) return red.status();
    return AnyGetter([red = *red]() mutable -> absl::StatusOr<std::any> {
      absl::StatusOr<V> v = red.Get();
      if (!v.ok()) return v.status();
      return std::any(*std::move(v));
    });
  };
  r.to_python = [to_python = std::move(to_python)](const std::any& v) -> pybind11::object {
    return to_python(std::any_cast<const V&>(v));
  };
  return r;
}

void BindFilters(pybind11::module_& m);
// The neighbourhood filters (convolve, kernel_reduce) and the reductions
// statistics and histogram, into the submodule `f` (filters_more.cc).
void BindMoreFilters(pybind11::module_& f);

}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_FILTERS_H_
