// Python functions as engine filters. The engine calls them on its worker
// threads with the GIL released; each call takes the GIL only around the
// Python code and to allocate the tile's NumPy arrays (the copies into and
// out of them run without it).
#ifndef EOSCALE_PYTHON_PYTHON_FILTER_H_
#define EOSCALE_PYTHON_PYTHON_FILTER_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "eoscale/graph/filter.h"

namespace eoscale::python {

namespace py = pybind11;

// The GIL, taken by a thread that may not be one of Python's (an engine
// worker). Such a thread gets a Python thread state the first time and keeps
// it for its life: Python code keeps its thread-locals between tiles
// (rasterio's GDAL environment, NumPy's error state), and a call does not pay
// for a new thread state (with rasterio, a new GDAL environment: ~15 ms).
// Threads marked transient (ScopedTransientThread) drop theirs after each
// call, as pybind11 does.
class WorkerGil {
 public:
  WorkerGil();

 private:
  py::gil_scoped_acquire gil_;
};

// Marks the current thread, for its scope, as short-lived: WorkerGil keeps
// no thread state for it.
class ScopedTransientThread {
 public:
  ScopedTransientThread();
  ~ScopedTransientThread();
};

// A reference to a Python object that may be copied and destroyed on any
// thread without the GIL: only the last owner takes the GIL, to drop it.
using PyRef = std::shared_ptr<py::object>;
PyRef MakeRef(py::object o);

// What a Python tile function receives: NumPy arrays of the inputs (with
// their margin) and of the outputs (the stable window), and where the tile
// is. Valid during the call only: afterwards every attribute raises.
// The output arrays are made (zero-filled) when first asked for: a function
// that returns its outputs never pays for them.
struct PyTile {
  Tile tile;
  py::list inputs;
  std::vector<View> output_views;  // the engine's outputs, for Outputs()
  std::optional<py::list> outputs;  // made by Outputs()
  bool valid = true;
  void CheckValid() const;
  // REQUIRES: the GIL. The output arrays, made on the first call.
  py::list Outputs();
};

// A Map whose `fn(tile)` is Python. `profiles` is None (the outputs copy the
// input profiles), a list of (partial) profile dicts, each completed from the
// first input's profile, or a callable taking the list of input profile
// dicts and returning such a list. Arrays `fn` returns are cast into the
// outputs under NumPy's `casting` rule ("same_kind", or "unsafe" as NumPy's
// assignment does).
MapFilter MakePythonMap(py::object fn, int margin, py::object profiles, std::string name,
                        std::string casting = "same_kind");

// The value a Python reduction folds: a Python object, or the error that
// stopped the fold (a combine that raised).
struct PyValue {
  PyRef value;
  std::shared_ptr<absl::Status> error;
};
ReduceFilter<PyValue> MakePythonReduce(py::object map_fn, py::object combine_fn, std::string name);

}  // namespace eoscale::python

#endif  // EOSCALE_PYTHON_PYTHON_FILTER_H_
