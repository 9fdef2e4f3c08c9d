// BufferPool: counted memory for tile buffers. It knows the exact number of
// live bytes and keeps a high-water mark ("count memory, don't estimate it"),
// and recycles freed blocks of the same size so that a steady stream of
// tiles does not go back to the system allocator for every tile.
//
// Thread-safe.
#ifndef EOSCALE_CORE_BUFFER_POOL_H_
#define EOSCALE_CORE_BUFFER_POOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "eoscale/core/view.h"

namespace eoscale {

class BufferPool {
 public:
  // Freed blocks are kept for reuse while live + kept bytes stay within
  // `retain_limit`; beyond it they go back to the system.
  explicit BufferPool(int64_t retain_limit) : retain_limit_(retain_limit) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // 64-byte aligned, uninitialised. Counted live until Free.
  void* Allocate(size_t bytes);
  // REQUIRES: p came from Allocate(bytes) on this pool.
  void Free(void* p, size_t bytes);

  int64_t live_bytes() const { return live_.load(std::memory_order_relaxed); }
  int64_t peak_bytes() const { return peak_.load(std::memory_order_relaxed); }
  int64_t total_allocated_bytes() const { return total_.load(std::memory_order_relaxed); }
  int64_t retained_bytes() const;
  void ResetPeak() { peak_.store(live_bytes(), std::memory_order_relaxed); }
  void set_retain_limit(int64_t limit);
  // Gives every retained block back to the system.
  void Trim();

 private:
  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> peak_{0};
  std::atomic<int64_t> total_{0};
  mutable absl::Mutex mu_;
  int64_t retain_limit_ ABSL_GUARDED_BY(mu_);
  int64_t retained_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<size_t, std::vector<void*>> free_ ABSL_GUARDED_BY(mu_);
};

// A band-sequential buffer of pixels covering `window`, owned, allocated
// from a BufferPool (which must outlive it).
class PooledBuffer {
 public:
  PooledBuffer(BufferPool* pool, PixelType type, int bands, const Window& window);
  ~PooledBuffer();
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;

  size_t bytes() const { return bytes_; }
  PixelType type() const { return type_; }
  int bands() const { return bands_; }
  const Window& window() const { return window_; }
  View view() { return View::Contiguous(data_, type_, bands_, window_); }
  ConstView view() const { return ConstView::Contiguous(data_, type_, bands_, window_); }
  void* data() { return data_; }

 private:
  BufferPool* pool_;
  PixelType type_;
  int bands_;
  Window window_;
  size_t bytes_;
  void* data_;
};

}  // namespace eoscale

#endif  // EOSCALE_CORE_BUFFER_POOL_H_
