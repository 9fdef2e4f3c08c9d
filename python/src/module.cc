// eoscale._eoscale: the engine for Python (docs/python.md). The package
// `eoscale` (python/eoscale/) wraps it.
#include <pybind11/pybind11.h>

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "context.h"
#include "filters.h"

namespace {

// Python filters allocate NumPy arrays of a tile (hundreds of KiB) on the
// engine's threads, once per tile and per temporary. With glibc's default
// thresholds those come from fresh mmaps or from heap tops trimmed after each
// tile, so every call pays page faults for all its memory: NumPy ran 60 x
// slower on a worker thread than on Python's main thread (0.7 ms against
// 0.011 ms for one 256 x 256 float32 subtraction, on a VM). Fixed thresholds
// keep such blocks in the heaps for reuse; memory is still returned beyond
// 64 MiB free at a heap's top. A user's MALLOC_MMAP_THRESHOLD_ or
// MALLOC_TRIM_THRESHOLD_ (glibc's environment tunables) is left alone.
void TuneMalloc() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr && std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr &&
      std::getenv("EOSCALE_KEEP_MALLOC") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  }
#endif
}

}  // namespace

PYBIND11_MODULE(_eoscale, m) {
  m.doc() = "EOScale C++ engine bindings (use the `eoscale` package)";
  TuneMalloc();
  eoscale::python::BindContext(m);
  eoscale::python::BindFilters(m);
}
