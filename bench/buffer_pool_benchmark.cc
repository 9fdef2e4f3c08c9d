// buffer_pool_benchmark: the cost of the counted tile memory (core/buffer_pool.h)
// against the system allocator, in the same run.
//
//   allocate_free/<bytes>/{malloc,pool,pooled_buffer}
//       one Allocate + Free of the same size, again and again: the pool's
//       recycled path (a mutex, a hash lookup, the counters) against
//       aligned_alloc + free; pooled_buffer is the RAII PooledBuffer the
//       engine uses, with per-node tags counted (ResetPeak(16)).
//   wavefront/<bytes>/{malloc,pool}
//       a window of 32 live buffers: free the oldest, allocate a new one,
//       as tiles flow through a graph.
//   ...threads:2 variants share one pool between two threads (contention).
//
// Single-thread variants are timed in CPU time (robust to other load on the
// machine), two-thread ones in wall time. Summary: time per operation as a
// ratio to malloc.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "eoscale/core/buffer_pool.h"

namespace eoscale::bench {
namespace {

constexpr int64_t kRetain = int64_t{1} << 30;

// Shared by the benchmark threads; destroyed at exit, after every run.
BufferPool& SharedPool() {
  static BufferPool pool(kRetain);
  static const bool ready = [] {
    pool.ResetPeak(16);
    return true;
  }();
  (void)ready;
  return pool;
}

// Keeps `p` and what it points to alive for the optimizer. Not
// benchmark::DoNotOptimize(p) on the pointer: with Google Benchmark 1.7.1's
// in-out asm constraint, GCC 12 with -O1 -fsanitize=address,undefined
// -fno-omit-frame-pointer (the sanitizer build) corrupts the stack (freed a
// wrong address here; a 10-line program with that call alone crashes).
void Use(void* p) {
  static_cast<volatile char*>(p)[0] = 1;
  benchmark::ClobberMemory();
}

void* MallocAlloc(size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }

void AllocateFree(benchmark::State& state, const std::string& how, size_t bytes) {
  BufferPool& pool = SharedPool();
  const int tag = state.thread_index() % 16;
  for (auto _ : state) {
    if (how == "malloc") {
      void* p = MallocAlloc(bytes);
      Use(p);
      std::free(p);
    } else if (how == "pool") {
      void* p = pool.Allocate(bytes, tag);
      Use(p);
      pool.Free(p, bytes, tag);
    } else {
      PooledBuffer b(&pool, PixelType::kF32, 1, {0, 0, static_cast<int>(bytes / 4), 1}, tag);
      Use(b.data());
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void Wavefront(benchmark::State& state, const std::string& how, size_t bytes) {
  BufferPool& pool = SharedPool();
  const int tag = state.thread_index() % 16;
  constexpr int kLive = 32;
  std::deque<void*> live;
  auto alloc = [&]() { return how == "malloc" ? MallocAlloc(bytes) : pool.Allocate(bytes, tag); };
  auto release = [&](void* p) {
    if (how == "malloc") {
      std::free(p);
    } else {
      pool.Free(p, bytes, tag);
    }
  };
  for (int i = 0; i < kLive; ++i) live.push_back(alloc());
  for (auto _ : state) {
    release(live.front());
    live.pop_front();
    void* p = alloc();
    // Touch one byte per page as a tile would (first touch is the expensive
    // part of fresh memory).
    for (size_t o = 0; o < bytes; o += 4096) static_cast<char*>(p)[o] = 1;
    live.push_back(p);
  }
  for (void* p : live) release(p);
  state.SetItemsProcessed(state.iterations());
}

void RegisterAll() {
  for (size_t bytes : {size_t{1} << 10, size_t{256} << 10, size_t{4} << 20}) {
    for (int threads : {1, 2}) {
      const std::string suffix = threads == 1 ? "" : "/threads:2";
      for (const char* how : {"malloc", "pool", "pooled_buffer"}) {
        auto* b = benchmark::RegisterBenchmark(absl::StrCat("allocate_free/", bytes, suffix, "/", how).c_str(),
                                               AllocateFree, std::string(how), bytes);
        b->Threads(threads);
        if (threads > 1) b->UseRealTime();
      }
      for (const char* how : {"malloc", "pool"}) {
        auto* b = benchmark::RegisterBenchmark(absl::StrCat("wavefront/", bytes, suffix, "/", how).c_str(),
                                               Wavefront, std::string(how), bytes);
        b->Threads(threads);
        if (threads > 1) b->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") != 0) {
      std::fprintf(stderr, "buffer_pool_benchmark: unknown flag '%s' (only --smoke and --benchmark_*)\n", argv[i]);
      return 2;
    }
  }
  eoscale::bench::RegisterAll();
  eoscale::bench::SummaryReporter reporter("malloc", {});
  return eoscale::bench::RunBenchmarks(&reporter);
}
