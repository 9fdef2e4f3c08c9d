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

// NumPy arrays for a tile: copies of the inputs (read-only) and zero-filled
// outputs. They are allocated with the GIL and filled without it, so that the
// copies of two workers overlap each other and other threads' Python code.
struct TileArrays {
  py::list inputs;
  py::list outputs;
};
TileArrays MakeTileArrays(absl::Span<const ConstView> inputs, absl::Span<const View> outputs) {
  std::vector<py::array> in, out;
  std::vector<void*> in_data, out_data;
  std::vector<size_t> out_bytes;
  for (const ConstView& v : inputs) {
    in.push_back(ArrayLike(v));
    in_data.push_back(in.back().mutable_data());
  }
  for (const View& v : outputs) {
    out.push_back(ArrayLike(v));
    out_data.push_back(out.back().mutable_data());
    out_bytes.push_back(static_cast<size_t>(out.back().nbytes()));
  }
  {
    py::gil_scoped_release nogil;
    for (size_t i = 0; i < inputs.size(); ++i) CopyIn(inputs[i], in_data[i]);
    for (size_t j = 0; j < outputs.size(); ++j) std::memset(out_data[j], 0, out_bytes[j]);
  }
  TileArrays t;
  for (py::array& a : in) {
    a.attr("flags").attr("writeable") = false;  // inputs are read-only, as in the engine
    t.inputs.append(a);
  }
  for (py::array& a : out) t.outputs.append(a);
  return t;
}

// Copies `sources` (one per output, any array-like: see OutputSource) into
// the tile's outputs, the copies without the GIL.
void WriteOutputs(const py::list& sources, absl::Span<const View> outputs) {
  std::vector<py::array> src;
  std::vector<Strided> where;
  for (size_t j = 0; j < outputs.size(); ++j) {
    src.push_back(OutputSource(sources[j], outputs[j]));
    where.push_back(StridedOf(src.back()));
  }
  py::gil_scoped_release nogil;
  for (size_t j = 0; j < outputs.size(); ++j) CopyStrided(where[j], outputs[j]);
}

}  // namespace

MapFilter MakePythonMap(py::object fn, int margin, py::object profiles, std::string name) {
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
  f.fn = [fn_ref, name](const MapTile& t) -> absl::Status {
    return WithGil("filter '" + name + "': ", [&]() -> absl::Status {
      auto tile = std::make_unique<PyTile>();
      tile->tile = t.tile;
      TileArrays arrays = MakeTileArrays(t.inputs.span(), t.outputs.span());
      tile->inputs = std::move(arrays.inputs);
      tile->outputs = std::move(arrays.outputs);
      py::list outputs = tile->outputs;
      py::object handle = py::cast(std::move(tile), py::return_value_policy::take_ownership);
      struct Invalidate {  // also when fn raises
        py::object& h;
        ~Invalidate() {
          PyTile& pt = h.cast<PyTile&>();
          pt.valid = false;
          pt.inputs = py::list();
          pt.outputs = py::list();
        }
      } invalidate{handle};
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
        WriteOutputs(rets, t.outputs.span());
      } else {
        WriteOutputs(outputs, t.outputs.span());
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
      tile->inputs = MakeTileArrays(t.inputs.span(), {}).inputs;
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
