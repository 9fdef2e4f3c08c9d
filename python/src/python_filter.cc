#include "python_filter.h"

#include <cstring>
#include <utility>
#include <vector>

#include "convert.h"

namespace eoscale::python {

namespace {
thread_local bool transient_thread = false;
thread_local bool kept_thread_state = false;
}  // namespace

WorkerGil::WorkerGil() {
  if (!kept_thread_state && !transient_thread) {
    gil_.inc_ref();  // never back to 0: pybind11 keeps the thread state
    kept_thread_state = true;
  }
}

ScopedTransientThread::ScopedTransientThread() { transient_thread = true; }
ScopedTransientThread::~ScopedTransientThread() { transient_thread = false; }

PyRef MakeRef(py::object o) {
  return PyRef(new py::object(std::move(o)), [](py::object* p) {
    if (!Py_IsInitialized()) {  // interpreter gone: leak rather than crash
      p->release();
      delete p;
      return;
    }
    py::gil_scoped_acquire gil;
    delete p;
  });
}

void PyTile::CheckValid() const {
  if (!valid) {
    throw std::runtime_error(
        "tile used after its call returned: its arrays belong to that call (copy what you need, "
        "e.g. np.array(tile.inputs[0]), during the call)");
  }
}

namespace {

// Runs `body` with the GIL, turning a Python exception into the filter's
// failure (its type mapped to a status code, its message kept).
template <typename F>
absl::Status WithGil(const std::string& what, F&& body) {
  WorkerGil gil;
  try {
    return body();
  } catch (py::error_already_set& e) {
    return StatusFromPython(e, what);
  } catch (const py::value_error& e) {  // ours: an output that does not fit, a bad profile
    return absl::InvalidArgumentError(what + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(what + e.what());
  }
}

// NumPy arrays of `views`: zero-filled (`inputs` false) or copies of the
// views, read-only. They are allocated with the GIL and filled without it,
// so that the copies of two workers overlap each other and other threads'
// Python code.
py::list MakeArrays(absl::Span<const ConstView> views, bool inputs) {
  std::vector<py::array> arrays;
  std::vector<void*> data;
  for (const ConstView& v : views) {
    arrays.push_back(ArrayLike(v));
    data.push_back(arrays.back().mutable_data());
  }
  {
    py::gil_scoped_release nogil;
    for (size_t i = 0; i < views.size(); ++i) {
      if (inputs) {
        CopyIn(views[i], data[i]);
      } else {
        std::memset(data[i], 0, static_cast<size_t>(views[i].bands()) * views[i].rows() * views[i].cols() *
                                    PixelSize(views[i].type()));
      }
    }
  }
  py::list l;
  for (py::array& a : arrays) {
    if (inputs) a.attr("flags").attr("writeable") = false;  // inputs are read-only, as in the engine
    l.append(a);
  }
  return l;
}

// Stores `sources` (one array-like per output) into the outputs with
// numpy.copyto: NumPy's broadcasting and `casting`, straight into the
// engine's buffers, in one pass (copyto releases the GIL while it copies).
// The arrays over the engine's buffers never leave this function.
void CopyToOutputs(const py::sequence& sources, absl::Span<const View> outputs, const std::string& casting) {
  py::module_ np = py::module_::import("numpy");
  py::object copyto = np.attr("copyto");
  for (size_t j = 0; j < outputs.size(); ++j) {
    const View& v = outputs[j];
    const auto px = static_cast<py::ssize_t>(PixelSize(v.type()));
    py::array dst(DtypeOf(v.type()), std::vector<py::ssize_t>{v.bands(), v.rows(), v.cols()},
                  std::vector<py::ssize_t>{v.band_stride() * px, v.row_stride() * px, px}, v.data(),
                  py::capsule(v.data(), [](void*) {}));
    py::object src = sources[j];
    try {
      copyto(dst, src, py::arg("casting") = casting);
    } catch (py::error_already_set& e) {
      // NumPy checks the casting before the shapes: a shape that does not
      // fit is named as such, whatever else is wrong.
      py::object shape = np.attr("shape")(src);
      bool fits = true;
      try {
        np.attr("broadcast_shapes")(shape, dst.attr("shape"));
        fits = py::len(shape) <= 3;
      } catch (py::error_already_set&) {
        fits = false;
      }
      if (fits) throw;
      throw py::value_error("an output of shape " + std::string(py::str(shape)) +
                            " does not fit the tile's (bands, rows, cols) = (" + std::to_string(v.bands()) + ", " +
                            std::to_string(v.rows()) + ", " + std::to_string(v.cols()) + ")");
    }
  }
}

void ZeroOutputs(absl::Span<const View> outputs) {
  py::gil_scoped_release nogil;
  for (const View& v : outputs) {
    const size_t row_bytes = static_cast<size_t>(v.cols()) * PixelSize(v.type());
    for (int b = 0; b < v.bands(); ++b) {
      for (int y = 0; y < v.rows(); ++y) std::memset(v.RowPtr(b, y), 0, row_bytes);
    }
  }
}

}  // namespace

py::list PyTile::Outputs() {
  if (!outputs) {
    std::vector<ConstView> views(output_views.begin(), output_views.end());
    outputs = MakeArrays(views, /*inputs=*/false);
  }
  return *outputs;
}

MapFilter MakePythonMap(py::object fn, int margin, py::object profiles, std::string name, std::string casting) {
  MapFilter f;
  f.name = name;
  f.margin = margin;
  PyRef fn_ref = MakeRef(std::move(fn));
  if (!profiles.is_none()) {
    PyRef prof_ref = MakeRef(std::move(profiles));
    f.profiles = [prof_ref, name](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
      std::vector<Profile> out;
      absl::Status s = WithGil("filter '" + name + "' profiles: ", [&]() -> absl::Status {
        py::object spec = *prof_ref;
        if (PyCallable_Check(spec.ptr())) {
          py::list dicts;
          for (const Profile& p : in) dicts.append(ProfileToDict(p));
          spec = spec(dicts);
        }
        if (py::isinstance<py::dict>(spec)) {
          py::list one;
          one.append(spec);
          spec = one;
        }
        for (py::handle d : spec) out.push_back(ProfileFromDict(d.cast<py::dict>(), &in[0]));
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
      return out;
    };
  }
  f.fn = [fn_ref, name, casting](const MapTile& t) -> absl::Status {
    return WithGil("filter '" + name + "': ", [&]() -> absl::Status {
      auto tile = std::make_unique<PyTile>();
      tile->tile = t.tile;
      tile->inputs = MakeArrays(t.inputs.span(), /*inputs=*/true);
      tile->output_views.assign(t.outputs.begin(), t.outputs.end());
      PyTile* pt = tile.get();
      py::object handle = py::cast(std::move(tile), py::return_value_policy::take_ownership);
      struct Invalidate {  // also when fn raises
        PyTile* pt;
        ~Invalidate() {
          pt->valid = false;
          pt->inputs = py::list();
          pt->outputs.reset();
          pt->output_views.clear();  // the engine's buffers are not the tile's any more
        }
      } invalidate{pt};
      py::object ret = (*fn_ref)(handle);
      if (!ret.is_none()) {
        // Returned outputs: an array (one output) or a sequence of them.
        py::list rets;
        if (t.outputs.size() == 1 && !py::isinstance<py::list>(ret) && !py::isinstance<py::tuple>(ret)) {
          rets.append(ret);
        } else {
          rets = py::list(ret);
        }
        if (rets.size() != t.outputs.size()) {
          return absl::InvalidArgumentError("returned " + std::to_string(rets.size()) + " arrays for " +
                                            std::to_string(t.outputs.size()) + " outputs");
        }
        CopyToOutputs(rets, t.outputs.span(), casting);
      } else if (pt->outputs) {
        CopyToOutputs(*pt->outputs, t.outputs.span(), casting);
      } else {
        ZeroOutputs(t.outputs.span());  // never asked for: the outputs are zeros
      }
      return absl::OkStatus();
    });
  };
  return f;
}

ReduceFilter<PyValue> MakePythonReduce(py::object map_fn, py::object combine_fn, std::string name) {
  ReduceFilter<PyValue> f;
  f.name = name;
  PyRef map_ref = MakeRef(std::move(map_fn));
  PyRef combine_ref = MakeRef(std::move(combine_fn));
  f.map = [map_ref, name](const ReduceTile& t) -> absl::StatusOr<PyValue> {
    PyValue v;
    absl::Status s = WithGil("reduce '" + name + "': ", [&]() -> absl::Status {
      auto tile = std::make_unique<PyTile>();
      tile->tile = t.tile;
      tile->inputs = MakeArrays(t.inputs.span(), /*inputs=*/true);
      py::object handle = py::cast(std::move(tile), py::return_value_policy::take_ownership);
      struct Invalidate {
        py::object& h;
        ~Invalidate() {
          PyTile& pt = h.cast<PyTile&>();
          pt.valid = false;
          pt.inputs = py::list();
        }
      } invalidate{handle};
      v.value = MakeRef((*map_ref)(handle));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return v;
  };
  // combine cannot fail in the engine's API: a Python error is carried in the
  // value and raised by get().
  f.combine = [combine_ref, name](PyValue a, PyValue b) -> PyValue {
    if (a.error) return a;
    if (b.error) return b;
    PyValue out;
    absl::Status s = WithGil("reduce '" + name + "' combine: ", [&]() -> absl::Status {
      out.value = MakeRef((*combine_ref)(*a.value, *b.value));
      return absl::OkStatus();
    });
    if (!s.ok()) out.error = std::make_shared<absl::Status>(s);
    return out;
  };
  return f;
}

}  // namespace eoscale::python
