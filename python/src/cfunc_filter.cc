#include "cfunc_filter.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "convert.h"
#include "filters.h"
#include "python_filter.h"

namespace eoscale::python {
namespace {

// int32_t kernel(void** inputs, void** outputs, const int64_t* dims)
//   dims = [n_inputs, n_outputs,
//           bands, rows, cols of each input (with the margin),
//           bands, rows, cols of each output (the stable window),
//           x, y, width, height of the stable window,
//           top, right, bottom, left margins]
// Every buffer is C-contiguous (bands, rows, cols). Nonzero fails the tile.
using Kernel = int32_t (*)(void**, void**, const int64_t*);

// A contiguous copy of a view that is not contiguous (or its own data).
struct Contiguous {
  std::vector<std::byte> copy;
  void* data = nullptr;
};

size_t Bytes(int bands, int rows, int cols, PixelType t) {
  return static_cast<size_t>(bands) * rows * cols * PixelSize(t);
}

}  // namespace

void BindCFunc(py::module_& f) {
  f.def(
      "cfunc",
      [](uintptr_t address, const py::object& dtype, int count, int num_outputs, int margin, const std::string& name,
         const py::object& keep_alive) {
        if (address == 0) throw py::value_error("cfunc: a null function address");
        if (count < 1 || num_outputs < 1 || margin < 0) {
          throw py::value_error("cfunc: count and num_outputs must be >= 1 and margin >= 0");
        }
        const PixelType type = PixelTypeOfDtype(dtype);
        const Kernel kernel = reinterpret_cast<Kernel>(address);
        PyRef owner = MakeRef(keep_alive);  // the compiled function stays loaded while the filter exists
        MapFilter m;
        m.name = name;
        m.margin = margin;
        m.num_outputs = num_outputs;
        m.profiles = [type, count, num_outputs](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
          Profile p = in[0];
          p.type = type;
          p.bands = count;
          p.nodata.reset();
          return std::vector<Profile>(num_outputs, p);
        };
        m.fn = [kernel, owner, name](const MapTile& t) -> absl::Status {
          const size_t n_in = t.inputs.size(), n_out = t.outputs.size();
          std::vector<Contiguous> ins(n_in), outs(n_out);
          std::vector<void*> in_ptrs(n_in), out_ptrs(n_out);
          std::vector<int64_t> dims{static_cast<int64_t>(n_in), static_cast<int64_t>(n_out)};
          for (size_t i = 0; i < n_in; ++i) {
            const ConstView& v = t.inputs[i];
            if (v.contiguous()) {
              ins[i].data = const_cast<void*>(v.RowPtr(0, 0));  // the kernel's contract: inputs are read
            } else {
              ins[i].copy.resize(Bytes(v.bands(), v.rows(), v.cols(), v.type()));
              CopyIn(v, ins[i].copy.data());
              ins[i].data = ins[i].copy.data();
            }
            in_ptrs[i] = ins[i].data;
            dims.insert(dims.end(), {v.bands(), v.rows(), v.cols()});
          }
          for (size_t j = 0; j < n_out; ++j) {
            const View& v = t.outputs[j];
            if (v.row_stride() == v.cols() && (v.bands() == 1 || v.band_stride() == int64_t{v.rows()} * v.cols())) {
              outs[j].data = v.RowPtr(0, 0);
            } else {
              outs[j].copy.assign(Bytes(v.bands(), v.rows(), v.cols(), v.type()), std::byte{0});
              outs[j].data = outs[j].copy.data();
            }
            out_ptrs[j] = outs[j].data;
            dims.insert(dims.end(), {v.bands(), v.rows(), v.cols()});
          }
          const Tile& k = t.tile;
          dims.insert(dims.end(), {k.window.x, k.window.y, k.window.width, k.window.height, k.top, k.right, k.bottom,
                                   k.left});
          const int32_t rc = kernel(in_ptrs.data(), out_ptrs.data(), dims.data());
          if (rc != 0) {
            return absl::InternalError("cfunc '" + name + "' returned " + std::to_string(rc) + " on tile " +
                                       std::to_string(k.index));
          }
          for (size_t j = 0; j < n_out; ++j) {
            if (!outs[j].copy.empty()) CopyOut(outs[j].copy.data(), t.outputs[j]);
          }
          return absl::OkStatus();
        };
        return NativeFilter{std::move(m)};
      },
      py::arg("address"), py::arg("dtype"), py::arg("count") = 1, py::arg("num_outputs") = 1, py::arg("margin") = 0,
      py::arg("name") = "cfunc", py::arg("keep_alive") = py::none(),
      "A C tile function int32(void** inputs, void** outputs, const int64* dims) as a native filter");
}

}  // namespace eoscale::python
