#include "filters.h"

#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cfunc_filter.h"
#include "convert.h"
#include "eoscale/filters/cast.h"
#include "eoscale/filters/concatenate.h"
#include "eoscale/filters/expression.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/logical.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/normalized_difference.h"
#include "eoscale/filters/threshold.h"
#include "eoscale/filters/uniform.h"

namespace eoscale::python {

namespace py = pybind11;

namespace {

filters::CompareOp ParseOp(const std::string& op) {
  if (op == ">") return filters::CompareOp::kGreater;
  if (op == ">=") return filters::CompareOp::kGreaterEqual;
  if (op == "<") return filters::CompareOp::kLess;
  if (op == "<=") return filters::CompareOp::kLessEqual;
  if (op == "==") return filters::CompareOp::kEqual;
  if (op == "!=") return filters::CompareOp::kNotEqual;
  throw py::value_error("threshold: op must be one of > >= < <= == !=, got '" + op + "'");
}

NativeFilter Named(MapFilter f, const py::object& name) {
  if (!name.is_none()) f.name = name.cast<std::string>();
  return {std::move(f)};
}

}  // namespace

void BindFilters(py::module_& m) {
  py::class_<NativeFilter>(m, "Filter", "A built-in (native) filter: pass it to Context.map.")
      .def_property_readonly("name", [](const NativeFilter& f) { return f.filter.name; })
      .def_property_readonly("margin", [](const NativeFilter& f) { return f.filter.margin; })
      .def("__repr__", [](const NativeFilter& f) {
        return "<eoscale.filters.Filter '" + f.filter.name + "' margin " + std::to_string(f.filter.margin) + ">";
      });

  py::class_<NativeReduce>(m, "ReduceFilter", "A built-in (native) reduction: pass it to Context.reduce.")
      .def_property_readonly("name", [](const NativeReduce& r) { return r.name; })
      .def("__repr__", [](const NativeReduce& r) { return "<eoscale.filters.ReduceFilter '" + r.name + "'>"; });

  py::module_ f = m.def_submodule("filters", "Built-in filters (native code, run without the GIL)");
  BindCFunc(f);
  f.def(
      "normalized_difference",
      [](int band_a, int band_b, float epsilon, const py::object& name) {
        return Named(filters::NormalizedDifference(band_a, band_b, epsilon), name);
      },
      py::arg("band_a"), py::arg("band_b"), py::arg("epsilon") = 0.0f, py::arg("name") = py::none(),
      "(A - B) / (A + B + epsilon) as float32; bands numbered from 1 across all inputs");
  f.def(
      "threshold",
      [](double value, const std::string& op, const py::object& name) {
        return Named(filters::Threshold(value, ParseOp(op)), name);
      },
      py::arg("value"), py::arg("op") = ">", py::arg("name") = py::none(),
      "uint8 mask: 1 where `sample op value`, with op one of > >= < <= == !=");
  f.def(
      "expression",
      [](const std::string& expr, const py::object& dtype, const py::object& nodata,
         const py::object& input_bands, const py::object& name) {
        filters::ExpressionOptions o;
        if (!name.is_none()) o.name = name.cast<std::string>();
        if (!nodata.is_none()) o.nodata = nodata.cast<double>();
        if (!input_bands.is_none()) o.input_bands = input_bands.cast<std::vector<std::vector<int>>>();
        return NativeFilter{Value(filters::Expression(expr, PixelTypeOfDtype(dtype), std::move(o)))};
      },
      py::arg("expr"), py::arg("dtype") = "float32", py::arg("nodata") = py::none(),
      py::arg("input_bands") = py::none(), py::arg("name") = py::none(),
      "Band math in OTB BandMath syntax (im1b2, idxX, ...; docs/expression.md)");
  f.def(
      "expression_bands",
      [](const std::string& expr) { return Value(filters::ExpressionBands(expr)); }, py::arg("expr"),
      "The bands each input of `expr` references (pass element i as open()'s bands)");
  f.def(
      "fill_nodata",
      [](double max_search_distance, int smoothing_iterations, const py::object& name) {
        return Named(filters::FillNodata({.max_search_distance = max_search_distance,
                                          .smoothing_iterations = smoothing_iterations}),
                     name);
      },
      py::arg("max_search_distance") = 100.0, py::arg("smoothing_iterations") = 0, py::arg("name") = py::none(),
      "GDALFillNodata by tiles (image, or image and mask)");
  f.def(
      "nodata_mask", [](const py::object& name) { return Named(filters::NodataMask(), name); },
      py::arg("name") = py::none(), "uint8: 1 where a sample is nodata (or NaN)");
  f.def(
      "cast", [](const py::object& dtype, const py::object& name) {
        return Named(filters::Cast(PixelTypeOfDtype(dtype)), name);
      },
      py::arg("dtype"), py::arg("name") = py::none(), "Converts every band to dtype (saturating)");
  f.def(
      "concatenate", [](const py::object& dtype, const py::object& name) {
        return Named(filters::Concatenate(PixelTypeOfDtype(dtype)), name);
      },
      py::arg("dtype"), py::arg("name") = py::none(), "The bands of all inputs, in order, as one image of dtype");
  f.def(
      "uniform", [](int size, const py::object& name) { return Named(filters::Uniform(size), name); },
      py::arg("size"), py::arg("name") = py::none(), "size x size mean (scipy.ndimage.uniform_filter)");
  f.def(
      "min_max",
      [](const py::object& name) {
        ReduceFilter<filters::MinMaxResult> r = filters::MinMax();
        if (!name.is_none()) r.name = name.cast<std::string>();
        return MakeNativeReduce<filters::MinMaxResult>(std::move(r), [](const filters::MinMaxResult& mm) {
          return py::object(py::make_tuple(mm.min, mm.max));
        });
      },
      py::arg("name") = py::none(),
      "(min, max) over every sample of every input, NaN skipped (pass it to Context.reduce)");
  f.def(
      "logical_and", [](const py::object& name) { return Named(filters::LogicalAnd(), name); },
      py::arg("name") = py::none());
  f.def(
      "logical_or", [](const py::object& name) { return Named(filters::LogicalOr(), name); },
      py::arg("name") = py::none());
  f.def(
      "logical_not", [](const py::object& name) { return Named(filters::LogicalNot(), name); },
      py::arg("name") = py::none());
  BindMoreFilters(f);
}

}  // namespace eoscale::python
