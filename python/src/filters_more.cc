// eoscale.filters: the neighbourhood filters (convolve, kernel_reduce) and the
// reductions statistics and histogram.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "eoscale/filters/border.h"
#include "eoscale/filters/convolve.h"
#include "eoscale/filters/generic_kernel.h"
#include "eoscale/filters/histogram.h"
#include "eoscale/filters/statistics.h"
#include "filters.h"

namespace eoscale::python {

namespace py = pybind11;

namespace {

filters::BorderMode ParseMode(const std::string& mode, const std::string& who) {
  if (mode == "reflect") return filters::BorderMode::kReflect;
  if (mode == "mirror") return filters::BorderMode::kMirror;
  if (mode == "nearest") return filters::BorderMode::kNearest;
  if (mode == "wrap") return filters::BorderMode::kWrap;
  if (mode == "constant") return filters::BorderMode::kConstant;
  throw py::value_error(who + ": mode must be one of reflect, mirror, nearest, wrap, constant, got '" + mode + "'");
}

std::string Str(const py::handle& h) { return std::string(py::str(h)); }

// `obj` as a NumPy array of real numbers (bool, integer or float dtype), or
// a ValueError naming `who` and `what`.
py::array RealArray(const py::handle& obj, const std::string& who, const std::string& what) {
  py::array a;
  try {
    a = py::module_::import("numpy").attr("asarray")(obj);
  } catch (py::error_already_set& e) {
    throw py::value_error(who + ": " + what + " must be an array of numbers (" + e.what() + ")");
  }
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
    throw py::value_error(who + ": " + what + " must be an array of real numbers, got dtype " + Str(a.dtype()));
  }
  return a;
}

// The values of `a` as doubles, C order; a ValueError if one is not finite.
std::vector<double> FiniteValues(const py::array& a, const std::string& who, const std::string& what) {
  auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  std::vector<double> v(d.data(), d.data() + d.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      throw py::value_error(who + ": " + what + " value " + std::to_string(i) + " is not finite");
    }
  }
  return v;
}

NativeFilter Convolve(const py::object& kernel, const std::string& mode, double cval, const py::object& dtype,
                      const py::object& name) {
  py::array a = RealArray(kernel, "convolve", "the kernel");
  if (a.ndim() != 2) {
    throw py::value_error("convolve: the kernel must be a 2-D array (rows, cols), got " + std::to_string(a.ndim()) +
                          " dimensions");
  }
  const auto rows = static_cast<int>(a.shape(0)), cols = static_cast<int>(a.shape(1));
  if (rows < 1 || cols < 1) {
    throw py::value_error("convolve: the kernel is empty (" + std::to_string(rows) + " x " + std::to_string(cols) +
                          ")");
  }
  filters::ConvolveOptions o;
  o.mode = ParseMode(mode, "convolve");
  o.cval = cval;
  if (!dtype.is_none()) o.output_type = PixelTypeOfDtype(dtype);
  MapFilter f = filters::Convolve(FiniteValues(a, "convolve", "kernel"), rows, cols, o);
  if (!name.is_none()) f.name = name.cast<std::string>();
  return {std::move(f)};
}

NativeFilter KernelReduce(int radius, const std::string& reduction, const std::string& mode, double cval,
                          const py::object& dtype, const py::object& name) {
  filters::KernelReduction r;
  if (reduction == "sum") {
    r = filters::kernel::Sum();
  } else if (reduction == "mean") {
    r = filters::kernel::Mean();
  } else if (reduction == "min") {
    r = filters::kernel::Min();
  } else if (reduction == "max") {
    r = filters::kernel::Max();
  } else {
    throw py::value_error("kernel_reduce: reduction must be one of sum, mean, min, max, got '" + reduction + "'");
  }
  filters::GenericKernelOptions o;
  o.mode = ParseMode(mode, "kernel_reduce");
  o.cval = cval;
  o.output_type = PixelTypeOfDtype(dtype);
  MapFilter f = filters::GenericKernel(radius, std::move(r), o);
  if (!name.is_none()) f.name = name.cast<std::string>();
  return {std::move(f)};
}

py::object StatisticsToPython(const std::vector<filters::BandStatistics>& bands) {
  py::list l;
  for (const filters::BandStatistics& b : bands) {
    py::dict d;
    d["count"] = b.count;
    d["min"] = b.min;
    d["max"] = b.max;
    d["mean"] = b.mean;
    d["stddev"] = b.stddev;
    d["sum"] = b.sum.Value();
    l.append(std::move(d));
  }
  return l;
}

// numpy.histogram's `bins` and `range`: bin edges, or a bin count over a range.
std::vector<double> HistogramEdges(const py::object& bins, const py::object& range) {
  if (py::isinstance<py::int_>(bins) && !py::isinstance<py::bool_>(bins)) {
    const int n = bins.cast<int>();
    if (n < 1) throw py::value_error("histogram: bins must be >= 1, got " + std::to_string(n));
    if (range.is_none()) throw py::value_error("histogram: a bin count needs range=(lo, hi)");
    std::vector<double> r = FiniteValues(RealArray(range, "histogram", "range"), "histogram", "range");
    if (r.size() != 2 || !(r[0] < r[1])) {
      throw py::value_error("histogram: range must be (lo, hi) with lo < hi, got " + Str(range));
    }
    return filters::UniformEdges(r[0], r[1], n);
  }
  if (!range.is_none()) throw py::value_error("histogram: range is only for a bin count (bins given as edges)");
  py::array a = RealArray(bins, "histogram", "bins");
  if (a.ndim() != 1 || a.shape(0) < 2) {
    throw py::value_error("histogram: bins must be an int or a 1-D array of 2 or more edges, got shape " +
                          Str(a.attr("shape")));
  }
  std::vector<double> e = FiniteValues(a, "histogram", "edge");
  for (size_t i = 1; i < e.size(); ++i) {
    if (e[i] < e[i - 1]) throw py::value_error("histogram: edges decrease at " + std::to_string(i));
  }
  return e;
}

NativeReduce Histogram(const py::object& bins, const py::object& range, const py::object& name) {
  std::vector<double> edges = HistogramEdges(bins, range);
  const auto nbins = static_cast<py::ssize_t>(edges.size() - 1);
  ReduceFilter<filters::HistogramCounts> f = filters::Histogram(std::move(edges));
  if (!name.is_none()) f.name = name.cast<std::string>();
  return MakeNativeReduce<filters::HistogramCounts>(std::move(f), [nbins](const filters::HistogramCounts& c) {
    py::array_t<int64_t> a({static_cast<py::ssize_t>(c.size()), nbins});
    auto m = a.mutable_unchecked<2>();
    for (size_t b = 0; b < c.size(); ++b) {
      for (py::ssize_t i = 0; i < nbins; ++i) {
        m(static_cast<py::ssize_t>(b), i) = i < static_cast<py::ssize_t>(c[b].size()) ? c[b][i] : 0;
      }
    }
    return py::object(std::move(a));
  });
}

}  // namespace

void BindMoreFilters(py::module_& f) {
  f.def("convolve", &Convolve, py::arg("kernel"), py::arg("mode") = "reflect", py::arg("cval") = 0.0,
        py::arg("dtype") = py::none(), py::arg("name") = py::none(),
        "scipy.ndimage.convolve(band, kernel, mode=mode, cval=cval) of every band; kernel: a 2-D array of real "
        "numbers (any size); dtype: the output's, the input's when None");
  f.def("kernel_reduce", &KernelReduce, py::arg("radius"), py::arg("reduction") = "mean", py::arg("mode") = "constant",
        py::arg("cval") = 0.0, py::arg("dtype") = "float32", py::arg("name") = py::none(),
        "The native generic kernel: reduction ('sum', 'mean', 'min' or 'max') over the (2 radius + 1)^2 window of "
        "every pixel, band by band, of every input (one output each), as scipy.ndimage.generic_filter");
  f.def(
      "statistics",
      [](const py::object& name) {
        ReduceFilter<std::vector<filters::BandStatistics>> s = filters::Statistics();
        if (!name.is_none()) s.name = name.cast<std::string>();
        return MakeNativeReduce<std::vector<filters::BandStatistics>>(std::move(s), &StatisticsToPython);
      },
      py::arg("name") = py::none(),
      "Per band of every input, in order: a dict {count, min, max, mean, stddev (ddof 0), sum}, nodata and NaN "
      "skipped; exact sums, so bitwise the same for every tiling (pass it to Context.reduce)");
  f.def("histogram", &Histogram, py::arg("bins"), py::arg("range") = py::none(), py::arg("name") = py::none(),
        "numpy.histogram per band: an int64 array (bands, bins); bins: the edges, or a count with range=(lo, hi); "
        "nodata and NaN not counted (pass it to Context.reduce)");
}

}  // namespace eoscale::python
