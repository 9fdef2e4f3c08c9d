// Conversions between the engine's types and Python's: statuses to
// exceptions, pixel types to NumPy dtypes, profiles to dicts, views to arrays.
#ifndef EOSCALE_PYTHON_CONVERT_H_
#define EOSCALE_PYTHON_CONVERT_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eoscale/core/array.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/view.h"

namespace eoscale::python {

namespace py = pybind11;

// Raises the Python exception for `s` (REQUIRES: !s.ok(), the GIL held):
// FileNotFoundError for NOT_FOUND, ValueError for INVALID_ARGUMENT and
// OUT_OF_RANGE, MemoryError for RESOURCE_EXHAUSTED, RuntimeError otherwise.
[[noreturn]] void ThrowStatus(const absl::Status& s);
inline void Check(const absl::Status& s) {
  if (!s.ok()) ThrowStatus(s);
}
template <typename T>
T Value(absl::StatusOr<T> v) {
  if (!v.ok()) ThrowStatus(v.status());
  return *std::move(v);
}

// The status a Python exception maps back to (the inverse of ThrowStatus),
// with "ExceptionType: message" as its message. REQUIRES: the GIL held.
absl::Status StatusFromPython(const py::error_already_set& e, const std::string& context);

py::dtype DtypeOf(PixelType t);
// A NumPy dtype (or anything np.dtype() takes: "float32", np.uint8) -> type.
// Raises ValueError for an unsupported dtype.
PixelType PixelTypeOfDtype(const py::handle& dtype);

// {"width", "height", "count", "dtype", "nodata", "crs", "geotransform",
//  "writer_options"} (count is rasterio's word for bands).
py::dict ProfileToDict(const Profile& p);
// Starts from `base` (when given) and applies the keys of `d` present in
// it; unknown keys are a ValueError. "bands" is accepted for "count".
Profile ProfileFromDict(const py::dict& d, const Profile* base = nullptr);

// A new, uninitialised C-contiguous (bands, rows, cols) array of the view's
// type and shape (fill it with CopyIn, without the GIL).
py::array ArrayLike(const ConstView& v);
// Copies between a view and C-contiguous (bands, rows, cols) memory of its
// type and shape (no GIL needed).
void CopyIn(const ConstView& v, void* contiguous);
void CopyOut(const void* contiguous, const View& dst);
// Zero-copy: the array owns `array` (moved into its base object).
py::array ArrayToNumpy(Array array);

}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_CONVERT_H_
