#include "context.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <any>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "eoscale/graph/context.h"
#include "filters.h"
#include "python_filter.h"

namespace eoscale::python {
namespace {

// What a Python Context and the handles made from it share.
struct State {
  std::unique_ptr<Context> ctx;
  // Calls from Python hold it; a second thread (or a filter of the context's
  // own run) gets an error instead of racing the engine or deadlocking.
  std::mutex mu;
  // Arrays the graph reads without copying (from_array): alive as long as
  // the context.
  std::vector<PyRef> keep;
  // Set by Ctrl-C in the main thread: the progress callback then cancels
  // the run. Shared with that callback (which the context owns).
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
};

// Runs `body` (engine work, without the GIL) so that Ctrl-C cancels it.
// REQUIRES: the GIL held. In the main thread, `body` runs in a helper
// thread while this one, every 50 ms, takes the GIL to let Python run its
// signal handlers (PyErr_CheckSignals); a KeyboardInterrupt (or any
// exception a handler raises) sets the cancel flag, waits for the run to
// end (it stops after the tile tasks in flight, and removes its outputs) and
// is raised. Elsewhere `body` runs here (Python delivers signals to the main
// thread only).
template <typename R>
R Interruptible(State& s, std::function<R()> body) {
  const bool main_thread = PyThread_get_thread_ident() ==
                           py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  if (!main_thread) {
    py::gil_scoped_release nogil;
    return body();
  }
  std::future<R> f = std::async(std::launch::async, [body = std::move(body)] {
    // A thread per call, which also runs tile tasks: it keeps a Python thread
    // state for the call (not beyond), so its filters do not make one each.
    ScopedTransientThread transient;
    py::gil_scoped_acquire state;
    py::gil_scoped_release nogil;
    return body();
  });
  bool interrupted = false;
  {
    py::gil_scoped_release nogil;
    while (f.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (interrupted) continue;
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        interrupted = true;  // the exception stays set in this thread
        s.cancel->store(true);
      }
    }
  }
  R r = f.get();
  s.cancel->store(false);
  if (interrupted) throw py::error_already_set();
  return r;
}

class Busy {
 public:
  explicit Busy(State& s) : lock_(s.mu, std::try_to_lock) {
    if (!lock_.owns_lock()) {
      throw std::runtime_error(
          "context in use: a Context is used by one thread at a time, and not from its own filters");
    }
    if (!s.ctx) throw std::runtime_error("context is closed");
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

struct PyImage {
  Image image;
  py::dict profile() const { return ProfileToDict(Value(image.profile())); }
  std::string repr() const {
    absl::StatusOr<Profile> p = image.profile();
    return "<eoscale.Image " + image.name() + (p.ok() ? " " + DescribeProfile(*p) : " (unusable)") + ">";
  }
};

struct PyReduction {
  std::shared_ptr<State> state;
  AnyGetter get_any;                                   // without the GIL
  std::function<py::object(const std::any&)> convert;  // with it
  py::object get() {
    absl::StatusOr<std::any> v;
    {
      Busy busy(*state);
      v = Interruptible<absl::StatusOr<std::any>>(*state, get_any);
    }
    return convert(Value(std::move(v)));
  }
};

std::optional<Window> WindowOf(const py::object& w) {
  if (w.is_none()) return std::nullopt;
  auto v = w.cast<std::vector<int>>();
  if (v.size() != 4) throw py::value_error("window: (x, y, width, height) expected");
  return Window{v[0], v[1], v[2], v[3]};
}

std::vector<Image> ImagesOf(const py::object& inputs) {
  std::vector<Image> out;
  if (py::isinstance<PyImage>(inputs)) {
    out.push_back(inputs.cast<PyImage&>().image);
    return out;
  }
  for (py::handle h : inputs) {
    if (!py::isinstance<PyImage>(h)) throw py::type_error("inputs: eoscale.Image handles expected");
    out.push_back(h.cast<PyImage&>().image);
  }
  return out;
}

std::vector<std::string> CreationOptions(const py::object& options) {
  std::vector<std::string> out;
  if (options.is_none()) return out;
  if (py::isinstance<py::dict>(options)) {
    for (auto kv : options.cast<py::dict>()) {
      out.push_back(std::string(py::str(kv.first)) + "=" + std::string(py::str(kv.second)));
    }
    return out;
  }
  return options.cast<std::vector<std::string>>();
}

py::dict StatsToDict(const RunStats& s) {
  py::dict d;
  d["wall_seconds"] = s.wall_seconds;
  d["tiles"] = s.tiles;
  d["tasks"] = s.tasks;
  d["peak_live_bytes"] = s.peak_live_bytes;
  d["budget_bytes"] = s.budget_bytes;
  d["min_budget_bytes"] = s.min_budget_bytes;
  d["min_parallel_budget_bytes"] = s.min_parallel_budget_bytes;
  d["sequential"] = s.sequential;
  d["peak_rss_bytes"] = s.peak_rss_bytes;
  d["workers"] = s.workers;
  d["tile_width"] = s.tile_width;
  d["tile_height"] = s.tile_height;
  py::list nodes;
  for (const NodeStats& n : s.nodes) {
    py::dict nd;
    nd["name"] = n.name;
    nd["kind"] = n.kind;
    nd["tiles"] = n.tiles;
    nd["bytes_produced"] = n.bytes_produced;
    nd["live_at_peak"] = n.live_at_peak;
    nd["busy_seconds"] = n.busy_seconds;
    nd["grown_by"] = n.grown_by;
    nodes.append(nd);
  }
  d["nodes"] = nodes;
  return d;
}

class PyContext {
 public:
  PyContext(int workers, int64_t memory_budget_bytes, int tile_size, bool strips, bool trace,
            py::object progress, bool grow_tiles)
      : state_(std::make_shared<State>()) {
    ContextOptions o;
    o.workers = workers;
    o.memory_budget_bytes = memory_budget_bytes;
    o.tiling.tile_size = tile_size;
    o.tiling.mode = strips ? TileMode::kStrips : TileMode::kTiles;
    o.trace = trace;
    o.grow_tiles = grow_tiles;
    std::shared_ptr<std::atomic<bool>> cancel = state_->cancel;
    if (progress.is_none()) {
      o.progress = [cancel](const Progress&) { return !cancel->load(); };
    } else {
      PyRef cb = MakeRef(std::move(progress));
      o.progress = [cb, cancel](const Progress& p) {
        if (cancel->load()) return false;
        WorkerGil gil;
        try {
          py::object r = (*cb)(p.node, p.tiles_done, p.tiles_total);
          return r.is_none() || r.cast<bool>();
        } catch (py::error_already_set& e) {
          e.discard_as_unraisable("eoscale progress callback");
          return false;  // cancels the run
        }
      };
    }
    state_->ctx = Value(Context::Create(std::move(o)));
  }

  void close() {
    Busy busy(*state_);
    state_->ctx.reset();
    state_->keep.clear();
  }

  PyImage open(const std::string& path, const py::object& bands) {
    Busy busy(*state_);
    std::vector<int> b = bands.is_none() ? std::vector<int>{} : bands.cast<std::vector<int>>();
    absl::StatusOr<Image> img;
    {
      py::gil_scoped_release nogil;
      img = state_->ctx->Open(path, std::move(b));
    }
    return {Value(std::move(img))};
  }

  PyImage constant(const py::dict& profile, double value) {
    Busy busy(*state_);
    return {Value(state_->ctx->CreateConstant(ProfileFromDict(profile), value))};
  }

  PyImage from_array(const py::object& array, const py::object& profile) {
    Busy busy(*state_);
    py::module_ np = py::module_::import("numpy");
    py::array a = np.attr("ascontiguousarray")(array);
    Profile p;
    if (a.ndim() == 2) {
      p.bands = 1;
      p.height = static_cast<int>(a.shape(0));
      p.width = static_cast<int>(a.shape(1));
    } else if (a.ndim() == 3) {
      p.bands = static_cast<int>(a.shape(0));
      p.height = static_cast<int>(a.shape(1));
      p.width = static_cast<int>(a.shape(2));
    } else {
      throw py::value_error("from_array: a (rows, cols) or (bands, rows, cols) array expected, got " +
                            std::to_string(a.ndim()) + " dimensions");
    }
    p.type = PixelTypeOfDtype(a.dtype());
    if (!profile.is_none()) {
      const Profile shape = p;
      p = ProfileFromDict(profile.cast<py::dict>(), &p);
      if (p.width != shape.width || p.height != shape.height || p.bands != shape.bands || p.type != shape.type) {
        throw py::value_error("from_array: the profile (" + DescribeProfile(p) + ") does not match the array (" +
                              DescribeProfile(shape) + ")");
      }
    }
    Image img = Value(state_->ctx->Wrap(p, a.data()));
    state_->keep.push_back(MakeRef(a));
    return {img};
  }

  py::list map(const py::object& inputs, const py::object& fn, int margin, const py::object& profiles,
               const py::object& name, const std::string& casting) {
    Busy busy(*state_);
    MapFilter f;
    if (py::isinstance<NativeFilter>(fn)) {
      if (margin != 0 || !profiles.is_none() || casting != "same_kind") {
        throw py::value_error("map: margin, profiles and casting are set by a built-in filter, not by map()");
      }
      f = fn.cast<NativeFilter&>().filter;
      if (!name.is_none()) f.name = name.cast<std::string>();
    } else if (PyCallable_Check(fn.ptr())) {
      std::string n = name.is_none() ? std::string(py::str(py::getattr(fn, "__name__", py::str("map")))) : name.cast<std::string>();
      static const char* const kCastings[] = {"no", "equiv", "safe", "same_kind", "unsafe"};
      if (std::find(std::begin(kCastings), std::end(kCastings), casting) == std::end(kCastings)) {
        throw py::value_error("map: casting must be one of 'no', 'equiv', 'safe', 'same_kind', 'unsafe' (NumPy's "
                              "rules), got '" + casting + "'");
      }
      f = MakePythonMap(fn, margin, profiles, n, casting);
    } else {
      throw py::type_error("map: fn must be a callable or an eoscale.filters filter");
    }
    std::vector<Image> in = ImagesOf(inputs);
    std::vector<Image> out = Value(state_->ctx->Map(in, std::move(f)));
    py::list l;
    for (const Image& i : out) l.append(PyImage{i});
    return l;
  }

  PyReduction reduce(const py::object& inputs, const py::object& map_fn, const py::object& combine_fn,
                     const std::string& name) {
    Busy busy(*state_);
    std::vector<Image> in = ImagesOf(inputs);
    if (py::isinstance<NativeReduce>(map_fn)) {
      if (!combine_fn.is_none()) throw py::value_error("reduce: a built-in reduction takes no combine_fn");
      const NativeReduce& r = map_fn.cast<const NativeReduce&>();
      return {state_, Value(r.add(*state_->ctx, in)), r.to_python};
    }
    if (combine_fn.is_none()) throw py::value_error("reduce: combine_fn is needed with a Python map_fn");
    Reduction<PyValue> red = Value(state_->ctx->Reduce(in, MakePythonReduce(map_fn, combine_fn, name)));
    AnyGetter get = [red]() mutable -> absl::StatusOr<std::any> {
      absl::StatusOr<PyValue> v = red.Get();
      if (!v.ok()) return v.status();
      return std::any(*std::move(v));
    };
    auto convert = [](const std::any& a) -> py::object {
      const PyValue& pv = std::any_cast<const PyValue&>(a);
      if (pv.error) ThrowStatus(*pv.error);
      if (!pv.value) return py::none();
      return *pv.value;
    };
    return {state_, std::move(get), convert};
  }

  void write(const PyImage& image, const std::string& path, const py::object& options, const py::object& window,
             bool durable) {
    Busy busy(*state_);
    WriteOptions o;
    o.creation_options = CreationOptions(options);
    o.window = WindowOf(window);
    o.durable = durable;
    Check(state_->ctx->Write(image.image, path, std::move(o)));
  }

  py::array read(const PyImage& image, const py::object& window) {
    Busy busy(*state_);
    std::optional<Window> w = WindowOf(window);
    Context* ctx = state_->ctx.get();
    const Image img = image.image;
    absl::StatusOr<Array> a =
        Interruptible<absl::StatusOr<Array>>(*state_, [ctx, img, w] { return ctx->ReadAll(img, w); });
    return ArrayToNumpy(Value(std::move(a)));
  }

  void release(const PyImage& image) {
    Busy busy(*state_);
    Check(state_->ctx->Release(image.image));
  }

  void run() {
    Busy busy(*state_);
    Context* ctx = state_->ctx.get();
    Check(Interruptible<absl::Status>(*state_, [ctx] { return ctx->Run(); }));
  }

  std::string to_dot() {
    Busy busy(*state_);
    return state_->ctx->ToDot();
  }
  void write_trace(const std::string& path) {
    Busy busy(*state_);
    Check(state_->ctx->WriteTrace(path));
  }
  py::dict last_run_stats() {
    Busy busy(*state_);
    return StatsToDict(state_->ctx->last_run_stats());
  }
  std::vector<std::string> pending_outputs() {
    Busy busy(*state_);
    return state_->ctx->PendingOutputs();
  }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

void BindContext(py::module_& m) {
  py::class_<PyImage>(m, "Image", "A handle on an image of a Context's graph (lazy: nothing is computed).")
      .def_property_readonly("profile", &PyImage::profile)
      .def_property_readonly("name", [](const PyImage& i) { return i.image.name(); })
      .def("__repr__", &PyImage::repr);

  py::class_<PyReduction>(m, "Reduction", "The future-like result of Context.reduce.")
      .def("get", &PyReduction::get, "Runs what the reduction needs if it has not run yet; returns its value.");

  py::class_<PyTile>(m, "Tile", "One tile of a Python filter's call; valid during the call only.")
      .def_property_readonly("inputs", [](const PyTile& t) { t.CheckValid(); return t.inputs; },
                             "Input arrays (bands, rows, cols), read-only, with the margin")
      .def_property_readonly("outputs", [](PyTile& t) { t.CheckValid(); return t.Outputs(); },
                             "Output arrays (bands, rows, cols) of the stable window, zeroed: write them "
                             "(made when first asked for: a function that returns its outputs does not pay for them)")
      .def_property_readonly("window", [](const PyTile& t) {
            t.CheckValid();
            return py::make_tuple(t.tile.window.x, t.tile.window.y, t.tile.window.width, t.tile.window.height);
          }, "The stable window (x, y, width, height) in image coordinates")
      .def_property_readonly("margins", [](const PyTile& t) {
            t.CheckValid();
            return py::make_tuple(t.tile.top, t.tile.right, t.tile.bottom, t.tile.left);
          }, "The margin the inputs hold around the stable window: (top, right, bottom, left)")
      .def_property_readonly("index", [](const PyTile& t) { t.CheckValid(); return t.tile.index; })
      .def("stable", [](const PyTile& t, size_t i) -> py::object {
            t.CheckValid();
            if (i >= t.inputs.size()) throw py::index_error("no input " + std::to_string(i));
            const Tile& k = t.tile;
            py::slice rows(k.top, k.top + k.window.height, 1);
            py::slice cols(k.left, k.left + k.window.width, 1);
            return t.inputs[i][py::make_tuple(py::slice(py::none(), py::none(), py::none()), rows, cols)];
          }, py::arg("i") = 0, "Input i cropped to the stable window (a view)");

  py::class_<PyContext>(m, "_Context")
      .def(py::init<int, int64_t, int, bool, bool, py::object, bool>(), py::arg("workers") = 2,
           py::arg("memory_budget_bytes") = 0, py::arg("tile_size") = 0, py::arg("strips") = false,
           py::arg("trace") = false, py::arg("progress") = py::none(), py::arg("grow_tiles") = true)
      .def("close", &PyContext::close)
      .def("open", &PyContext::open, py::arg("path"), py::arg("bands") = py::none())
      .def("constant", &PyContext::constant, py::arg("profile"), py::arg("value") = 0.0)
      .def("from_array", &PyContext::from_array, py::arg("array"), py::arg("profile") = py::none())
      .def("map", &PyContext::map, py::arg("inputs"), py::arg("fn"), py::arg("margin") = 0,
           py::arg("profiles") = py::none(), py::arg("name") = py::none(), py::arg("casting") = "same_kind")
      .def("reduce", &PyContext::reduce, py::arg("inputs"), py::arg("map_fn"), py::arg("combine_fn") = py::none(),
           py::arg("name") = "reduce")
      .def("write", &PyContext::write, py::arg("image"), py::arg("path"), py::arg("options") = py::none(),
           py::arg("window") = py::none(), py::arg("durable") = true)
      .def("read", &PyContext::read, py::arg("image"), py::arg("window") = py::none())
      .def("release", &PyContext::release, py::arg("image"))
      .def("run", &PyContext::run)
      .def("to_dot", &PyContext::to_dot)
      .def("write_trace", &PyContext::write_trace, py::arg("path"))
      .def_property_readonly("last_run_stats", &PyContext::last_run_stats)
      .def_property_readonly("pending_outputs", &PyContext::pending_outputs);
}

}  // namespace eoscale::python
