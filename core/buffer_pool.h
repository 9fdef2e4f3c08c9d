// BufferPool: counted memory for tile buffers. It knows the exact number of
// live bytes and keeps a high-water mark ("count memory, don't estimate it"),
// and recycles freed blocks of the same size so that a steady stream of
// tiles does not go back to the system allocator for every tile.
//
// Thread-safe. Counters are updated under one mutex, so the per-tag
// figures at the peak add up exactly to the peak.
#ifndef EOSCALE_CORE_BUFFER_POOL_H_
#define EOSCALE_CORE_BUFFER_POOL_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eoscale/core/adaptive_mutex.h"
#include "eoscale/core/view.h"

namespace eoscale {

class BufferPool {
 public:
  // Freed blocks are kept for reuse while live + kept bytes stay within
  // the limit: `retain_limit`, or with `headroom` 1.25 x the larger of it
  // and the peak of live bytes since ResetPeak. Beyond it, kept blocks of
  // other sizes go back to the system first (border tiles of an earlier
  // row, say), then the block itself. The headroom is what lets a stream of
  // tiles at its peak recycle (a free at the peak is followed by an
  // allocation of the same size): EOScale's pipeline at 10980^2 missed 80 %
  // of its allocations without it, and each miss maps and zero-fills fresh
  // pages (6.1-7.4 s against 3.0-3.1 s, for 10-25 MiB more RSS). Without
  // it, the pool's footprint never passes `retain_limit` through kept
  // blocks (a user's memory budget is a promise). Kept blocks of a size
  // nobody asked for in the last kStaleAllocations allocations go back to
  // the system too: margin-grown tiles clamped at the image's top row, say,
  // never come back (EOScale's pipeline at 10980^2 kept 31 MiB of them for
  // 8.9 MiB live).
  explicit BufferPool(int64_t retain_limit, bool headroom = true)
      : retain_limit_(retain_limit), headroom_(headroom) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // 64-byte aligned, uninitialised. Counted live until Free, under `tag`
  // (an owner id, e.g. a graph node; tags >= num_tags() are counted only in
  // the totals).
  void* Allocate(size_t bytes, int tag = 0);
  // REQUIRES: p came from Allocate(bytes, tag) on this pool.
  void Free(void* p, size_t bytes, int tag = 0);

  int64_t live_bytes() const { return live_.load(std::memory_order_relaxed); }
  int64_t peak_bytes() const { return peak_.load(std::memory_order_relaxed); }
  int64_t total_allocated_bytes() const { return total_.load(std::memory_order_relaxed); }
  int64_t retained_bytes() const;
  // Starts a new measurement: the peak becomes the current live bytes, and
  // `num_tags` per-tag counters start at zero. `probe`, if set, is sampled
  // each time a new peak is reached (e.g. GDAL's cache in use).
  void ResetPeak(int num_tags = 0, std::function<int64_t()> probe = nullptr);

  struct TagFigures {
    int64_t allocated = 0;     // bytes allocated in total
    int64_t live = 0;          // bytes live now
    int64_t live_at_peak = 0;  // bytes live when the overall peak was reached
  };
  // Per-tag figures since ResetPeak, and the probe's value at the peak.
  std::vector<TagFigures> tag_figures() const;
  int64_t probe_at_peak() const;
  void set_retain_limit(int64_t limit, bool headroom = true);
  // Gives every retained block back to the system.
  void Trim();

  // After how many allocations without a request for its size a kept block
  // is given back; checked every kStaleCheckEvery allocations.
  static constexpr uint64_t kStaleAllocations = 512;
  static constexpr uint64_t kStaleCheckEvery = 64;

 private:
  using Evicted = std::vector<std::pair<void*, size_t>>;
  void OnPeak();  // REQUIRES: mu_ held
  // REQUIRES: mu_ held. The footprint limit for kept blocks.
  int64_t Limit() const {
    if (!headroom_) return retain_limit_;
    const int64_t l = std::max(retain_limit_, peak_.load(std::memory_order_relaxed));
    return l + l / 4;
  }
  // REQUIRES: mu_ held. Takes kept blocks of sizes other than `bytes` out
  // of the free lists (into `out`, for SystemFree outside the lock) until
  // live + kept bytes fit the limit.
  void EvictOtherSizes(size_t bytes, int64_t live, Evicted* out);
  // REQUIRES: mu_ held. Takes the kept blocks of stale sizes (see above).
  void EvictStale(Evicted* out);
  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> peak_{0};
  std::atomic<int64_t> total_{0};
  // std::mutex, not absl::Mutex: this lock is taken on every tile buffer
  // allocation and free, and Debian's Abseil runs its deadlock detector on
  // every absl::Mutex acquisition (measured: 80 -> 33 ns per allocate/free).
  // Everything below is guarded by mu_.
  mutable AdaptiveMutex mu_;
  int64_t retain_limit_;
  bool headroom_;
  int64_t retained_ = 0;
  // Per block size: the kept blocks, and the allocation count at the last
  // request for that size (sizes neither kept nor recently asked for are
  // dropped by EvictStale).
  struct SizeClass {
    std::vector<void*> blocks;
    uint64_t last_request = 0;
  };
  absl::flat_hash_map<size_t, SizeClass> free_;
  uint64_t serial_ = 0;  // allocations so far
  std::vector<TagFigures> tags_;
  std::function<int64_t()> probe_;
  int64_t probe_at_peak_ = 0;
};

// A band-sequential buffer of pixels covering `window`, owned, allocated
// from a BufferPool (which must outlive it). With `guard` > 0, that many
// bytes after the pixels hold a known pattern: GuardIntact() tells whether
// anything wrote past the end (a filter's overrun, caught when it returns).
class PooledBuffer {
 public:
  PooledBuffer(BufferPool* pool, PixelType type, int bands, const Window& window, int tag = 0,
               size_t guard = 0);
  ~PooledBuffer();
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;

  size_t bytes() const { return bytes_; }          // of the pixels
  size_t allocated_bytes() const { return bytes_ + guard_; }
  PixelType type() const { return type_; }
  int bands() const { return bands_; }
  const Window& window() const { return window_; }
  View view() { return View::Contiguous(data_, type_, bands_, window_); }
  ConstView view() const { return ConstView::Contiguous(data_, type_, bands_, window_); }
  void* data() { return data_; }
  const void* data() const { return data_; }
  int tag() const { return tag_; }
  bool GuardIntact() const;

 private:
  BufferPool* pool_;
  int tag_;
  PixelType type_;
  int bands_;
  Window window_;
  size_t bytes_;
  size_t guard_;
  void* data_;
};

}  // namespace eoscale

#endif  // EOSCALE_CORE_BUFFER_POOL_H_
