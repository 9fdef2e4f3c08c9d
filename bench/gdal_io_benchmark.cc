// gdal_io_benchmark: the I/O floor. Reading and writing a tiled GeoTIFF
// (4096 x 4096, one band, blocks of 256 x 256, uncompressed) through io/
// (io::OpenRaster + RasterSource::Read of every block; io::CreateGeoTiff +
// RasterSink::Write of every block + Commit), against GDAL called directly
// (GDALRasterBand::ReadBlock / WriteBlock) in the same run.
//
//   read/<type>/threads:<n>/{raw_gdal,io}     every block once, n threads
//                                             (one GDAL handle each)
//   read/<type>/threads:1/io_margin8          windows of a 256 tile grown by 8
//                                             pixels (the RasterIO path a
//                                             filter with a margin takes);
//                                             Mpx/s counts the stable pixels
//   write/<type>/{raw_gdal,io}                create, every block, close/commit
//
// Files live in a temporary folder (page cache: this is GDAL's cost, not
// the disk's; the input is read once before timing). Summary: wall as a
// ratio to raw_gdal; counters MB/s and Mpx/s.
//
// --smoke: 512 x 512, for CI.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/core/profile.h"
#include "eoscale/io/gdal_raster.h"
#include "gdal_priv.h"

namespace eoscale::bench {
namespace {

int g_size = 4096;
constexpr int kBlock = 256;
std::unique_ptr<TempDir> g_dir;

GDALDataType ToGdal(PixelType t) {
  switch (t) {
    case PixelType::kU8: return GDT_Byte;
    case PixelType::kI16: return GDT_Int16;
    case PixelType::kF32: return GDT_Float32;
    default: return GDT_Unknown;
  }
}

Profile ImageProfile(PixelType type) {
  Profile p;
  p.width = p.height = g_size;
  p.type = type;
  return p;
}

// One block's worth of deterministic bytes.
std::vector<std::byte> BlockBytes(PixelType type) {
  std::vector<std::byte> b(static_cast<size_t>(kBlock) * kBlock * PixelSize(type));
  uint32_t x = 12345;
  for (std::byte& v : b) {
    x = x * 1664525U + 1013904223U;
    v = static_cast<std::byte>(x >> 24);
  }
  return b;
}

std::vector<Window> Blocks(int grow) {
  std::vector<Window> w;
  for (int y = 0; y < g_size; y += kBlock) {
    for (int x = 0; x < g_size; x += kBlock) {
      const int x0 = std::max(0, x - grow), y0 = std::max(0, y - grow);
      const int x1 = std::min(g_size, x + kBlock + grow), y1 = std::min(g_size, y + kBlock + grow);
      w.push_back({x0, y0, x1 - x0, y1 - y0});
    }
  }
  return w;
}

absl::Status WriteWithIo(const std::string& path, PixelType type) {
  absl::StatusOr<std::unique_ptr<RasterSink>> sink = io::CreateGeoTiff(path, ImageProfile(type), kBlock, kBlock);
  if (!sink.ok()) return sink.status();
  const std::vector<std::byte> block = BlockBytes(type);
  for (const Window& w : Blocks(0)) {
    const ConstView v(block.data(), type, 1, w, kBlock, static_cast<int64_t>(kBlock) * kBlock);
    if (absl::Status s = (*sink)->Write(v); !s.ok()) return s;
  }
  if (absl::Status s = (*sink)->Finish(); !s.ok()) return s;
  return eoscale::CommitAll({sink->get()});
}

absl::Status WriteRaw(const std::string& path, PixelType type) {
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  CPLStringList options;
  options.SetNameValue("TILED", "YES");
  options.SetNameValue("BLOCKXSIZE", "256");
  options.SetNameValue("BLOCKYSIZE", "256");
  std::unique_ptr<GDALDataset> ds(driver->Create(path.c_str(), g_size, g_size, 1, ToGdal(type), options.List()));
  if (ds == nullptr) return absl::UnavailableError(absl::StrCat("cannot create ", path));
  std::vector<std::byte> block = BlockBytes(type);
  const int blocks = (g_size + kBlock - 1) / kBlock;
  for (int by = 0; by < blocks; ++by) {
    for (int bx = 0; bx < blocks; ++bx) {
      if (ds->GetRasterBand(1)->WriteBlock(bx, by, block.data()) != CE_None) {
        return absl::UnavailableError(absl::StrCat("cannot write block of ", path));
      }
    }
  }
  ds.reset();
  return absl::OkStatus();
}

// The input of the read benchmarks, written once per type and read once.
absl::StatusOr<std::string> InputFor(PixelType type) {
  static std::map<PixelType, std::string> files;
  if (auto it = files.find(type); it != files.end()) return it->second;
  const std::string path = (g_dir->path() / absl::StrCat("input_", PixelTypeName(type), ".tif")).string();
  if (absl::Status s = WriteWithIo(path, type); !s.ok()) return s;
  if (absl::StatusOr<int64_t> w = WarmUp({path}); !w.ok()) return w.status();
  files[type] = path;
  return path;
}

void SetCounters(benchmark::State& state, PixelType type) {
  const double px = static_cast<double>(g_size) * g_size * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(px * static_cast<double>(PixelSize(type))));
  state.counters["MB/s"] =
      benchmark::Counter(px * static_cast<double>(PixelSize(type)) * 1e-6, benchmark::Counter::kIsRate);
  state.counters["Mpx/s"] = benchmark::Counter(px * 1e-6, benchmark::Counter::kIsRate);
}

// Runs fn(thread) on `threads` threads (the calling one included).
template <typename Fn>
void OnThreads(int threads, Fn fn) {
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back([&fn, t] { fn(t); });
  fn(0);
  for (std::thread& t : others) t.join();
}

void ReadIo(benchmark::State& state, PixelType type, int threads, int grow) {
  absl::StatusOr<std::string> path = InputFor(type);
  if (!path.ok()) {
    state.SkipWithError(path.status().ToString().c_str());
    return;
  }
  const std::vector<Window> windows = Blocks(grow);
  std::vector<std::vector<std::byte>> buffers(threads);
  for (auto& b : buffers) b.resize(static_cast<size_t>(kBlock + 2 * grow) * (kBlock + 2 * grow) * PixelSize(type));
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(*path);
    if (!src.ok()) {
      state.SkipWithError(src.status().ToString().c_str());
      break;
    }
    std::vector<absl::Status> status(threads);
    OnThreads(threads, [&](int t) {
      for (size_t i = t; i < windows.size() && status[t].ok(); i += threads) {
        status[t] = (*src)->Read(View::Contiguous(buffers[t].data(), type, 1, windows[i]));
      }
    });
    for (const absl::Status& s : status) {
      if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    }
    if (state.error_occurred()) break;
  }
  SetCounters(state, type);
}

void ReadRaw(benchmark::State& state, PixelType type, int threads) {
  absl::StatusOr<std::string> path = InputFor(type);
  if (!path.ok()) {
    state.SkipWithError(path.status().ToString().c_str());
    return;
  }
  const int blocks = (g_size + kBlock - 1) / kBlock;
  std::vector<std::vector<std::byte>> buffers(threads);
  for (auto& b : buffers) b.resize(static_cast<size_t>(kBlock) * kBlock * PixelSize(type));
  for (auto _ : state) {
    std::vector<int> failed(threads, 0);
    OnThreads(threads, [&](int t) {
      std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path->c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
      if (ds == nullptr) {
        failed[t] = 1;
        return;
      }
      for (int i = t; i < blocks * blocks; i += threads) {
        if (ds->GetRasterBand(1)->ReadBlock(i % blocks, i / blocks, buffers[t].data()) != CE_None) failed[t] = 1;
      }
    });
    if (std::find(failed.begin(), failed.end(), 1) != failed.end()) {
      state.SkipWithError("GDAL read failed");
      break;
    }
  }
  SetCounters(state, type);
}

void Write(benchmark::State& state, PixelType type, bool raw) {
  const std::string path = (g_dir->path() / absl::StrCat("output_", PixelTypeName(type), ".tif")).string();
  for (auto _ : state) {
    absl::Status s = raw ? WriteRaw(path, type) : WriteWithIo(path, type);
    state.PauseTiming();
    std::error_code ec;
    std::filesystem::remove(path, ec);
    state.ResumeTiming();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  SetCounters(state, type);
}

void RegisterAll() {
  for (PixelType type : {PixelType::kU8, PixelType::kI16, PixelType::kF32}) {
    const std::string t(PixelTypeName(type));
    for (int threads : {1, 2}) {
      const std::string group = absl::StrCat("read/", t, "/threads:", threads);
      benchmark::RegisterBenchmark((group + "/raw_gdal").c_str(),
                                   [type, threads](benchmark::State& s) { ReadRaw(s, type, threads); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((group + "/io").c_str(),
                                   [type, threads](benchmark::State& s) { ReadIo(s, type, threads, 0); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(absl::StrCat("read/", t, "/threads:1/io_margin8").c_str(),
                                 [type](benchmark::State& s) { ReadIo(s, type, 1, 8); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    for (bool raw : {true, false}) {
      benchmark::RegisterBenchmark(absl::StrCat("write/", t, raw ? "/raw_gdal" : "/io").c_str(),
                                   [type, raw](benchmark::State& s) { Write(s, type, raw); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      eoscale::bench::g_size = 512;
    } else {
      std::fprintf(stderr, "gdal_io_benchmark: unknown flag '%s' (only --smoke and --benchmark_*)\n", argv[i]);
      return 2;
    }
  }
  eoscale::io::EnsureGdalInitialized();
  eoscale::io::SetGdalCacheMax(int64_t{16} << 20);
  absl::StatusOr<std::unique_ptr<eoscale::bench::TempDir>> dir = eoscale::bench::TempDir::Create("gdal_io_benchmark");
  if (!dir.ok()) {
    std::fprintf(stderr, "gdal_io_benchmark: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  eoscale::bench::g_dir = *std::move(dir);
  eoscale::bench::RegisterAll();
  eoscale::bench::SummaryReporter reporter("raw_gdal", {"MB/s", "Mpx/s"});
  const int rc = eoscale::bench::RunBenchmarks(&reporter);
  eoscale::bench::g_dir.reset();
  return rc;
}
