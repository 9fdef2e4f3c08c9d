#include "convert.h"

#include <pybind11/stl.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace eoscale::python {

void ThrowStatus(const absl::Status& s) {
  PyObject* type = PyExc_RuntimeError;
  switch (s.code()) {
    case absl::StatusCode::kNotFound: type = PyExc_FileNotFoundError; break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: type = PyExc_ValueError; break;
    case absl::StatusCode::kResourceExhausted: type = PyExc_MemoryError; break;
    default: break;
  }
  PyErr_SetString(type, std::string(s.message()).c_str());
  throw py::error_already_set();
}

absl::Status StatusFromPython(const py::error_already_set& e, const std::string& context) {
  std::string msg = context + e.what();
  if (e.matches(PyExc_FileNotFoundError)) return absl::NotFoundError(msg);
  if (e.matches(PyExc_ValueError)) return absl::InvalidArgumentError(msg);
  if (e.matches(PyExc_MemoryError)) return absl::ResourceExhaustedError(msg);
  if (e.matches(PyExc_KeyboardInterrupt)) return absl::CancelledError(msg);
  return absl::InternalError(msg);
}

py::dtype DtypeOf(PixelType t) {
  switch (t) {
    case PixelType::kU8: return py::dtype::of<uint8_t>();
    case PixelType::kI8: return py::dtype::of<int8_t>();
    case PixelType::kU16: return py::dtype::of<uint16_t>();
    case PixelType::kI16: return py::dtype::of<int16_t>();
    case PixelType::kU32: return py::dtype::of<uint32_t>();
    case PixelType::kI32: return py::dtype::of<int32_t>();
    case PixelType::kF32: return py::dtype::of<float>();
    case PixelType::kF64: break;
  }
  return py::dtype::of<double>();
}

PixelType PixelTypeOfDtype(const py::handle& dtype) {
  py::dtype d = py::dtype::from_args(py::reinterpret_borrow<py::object>(dtype));
  for (PixelType t : kAllPixelTypes) {
    if (d.equal(DtypeOf(t))) return t;
  }
  throw py::value_error("unsupported pixel type " + std::string(py::str(d)) +
                        " (supported: uint8, int8, uint16, int16, uint32, int32, float32, float64)");
}

py::dict ProfileToDict(const Profile& p) {
  py::dict d;
  d["width"] = p.width;
  d["height"] = p.height;
  d["count"] = p.bands;
  d["dtype"] = py::str(DtypeOf(p.type));
  d["nodata"] = p.nodata ? py::object(py::float_(*p.nodata)) : py::object(py::none());
  d["crs"] = p.crs_wkt;
  py::tuple gt(6);
  for (int i = 0; i < 6; ++i) gt[i] = p.geotransform[i];
  d["geotransform"] = gt;
  py::list wo;
  for (const std::string& o : p.writer_options) wo.append(o);
  d["writer_options"] = wo;
  return d;
}

Profile ProfileFromDict(const py::dict& d, const Profile* base) {
  Profile p = base ? *base : Profile{};
  for (auto item : d) {
    const std::string key = py::str(item.first);
    py::handle v = item.second;
    if (key == "width") {
      p.width = v.cast<int>();
    } else if (key == "height") {
      p.height = v.cast<int>();
    } else if (key == "count" || key == "bands") {
      p.bands = v.cast<int>();
    } else if (key == "dtype") {
      p.type = PixelTypeOfDtype(v);
    } else if (key == "nodata") {
      if (v.is_none()) p.nodata.reset();
      else p.nodata = v.cast<double>();
    } else if (key == "crs") {
      p.crs_wkt = v.is_none() ? std::string() : std::string(py::str(v));
    } else if (key == "geotransform") {
      auto gt = v.cast<std::vector<double>>();
      if (gt.size() != 6) throw py::value_error("profile: geotransform needs 6 numbers (GDAL order)");
      for (int i = 0; i < 6; ++i) p.geotransform[i] = gt[i];
    } else if (key == "writer_options") {
      p.writer_options = v.cast<std::vector<std::string>>();
    } else {
      throw py::value_error("profile: unknown key '" + key +
                            "' (known: width, height, count, dtype, nodata, crs, geotransform, writer_options)");
    }
  }
  return p;
}

py::array ArrayLike(const ConstView& v) {
  return py::array(DtypeOf(v.type()), std::vector<py::ssize_t>{v.bands(), v.rows(), v.cols()});
}

void CopyIn(const ConstView& v, void* contiguous) {
  const size_t row_bytes = static_cast<size_t>(v.cols()) * PixelSize(v.type());
  auto* out = static_cast<std::byte*>(contiguous);
  for (int b = 0; b < v.bands(); ++b) {
    for (int y = 0; y < v.rows(); ++y) {
      std::memcpy(out, v.RowPtr(b, y), row_bytes);
      out += row_bytes;
    }
  }
}

void CopyOut(const void* contiguous, const View& dst) {
  const size_t row_bytes = static_cast<size_t>(dst.cols()) * PixelSize(dst.type());
  const auto* in = static_cast<const std::byte*>(contiguous);
  for (int b = 0; b < dst.bands(); ++b) {
    for (int y = 0; y < dst.rows(); ++y) {
      std::memcpy(dst.RowPtr(b, y), in, row_bytes);
      in += row_bytes;
    }
  }
}

py::array ArrayToNumpy(Array array) {
  auto* owned = new Array(std::move(array));
  py::capsule base(owned, [](void* p) { delete static_cast<Array*>(p); });
  const Profile& p = owned->profile();
  return py::array(DtypeOf(p.type), std::vector<py::ssize_t>{p.bands, p.height, p.width}, owned->mutable_data(),
                   base);
}

}  // namespace eoscale::python
