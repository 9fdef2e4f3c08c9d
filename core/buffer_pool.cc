#include "eoscale/core/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

namespace eoscale {
namespace {
constexpr std::align_val_t kAlign{64};

// Blocks of at least this size are mapped from the kernel and unmapped when
// the pool lets them go, not taken from malloc: glibc keeps freed memory of
// varied sizes in its arenas (margin-grown tiles come in many sizes), so the
// process would keep the RSS of blocks the budget no longer counts. Mapped
// populated (MAP_POPULATE: one call faults the pages in, instead of one
// fault per page as the tile is first written): EOScale's pipeline at 3500^2
// took 618 ms with page-by-page faults, 484-499 with MAP_POPULATE and 468
// from malloc (whose peak RSS was 143 MiB against 123).
// Not under AddressSanitizer, which watches malloc's blocks only.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kMapAtLeast = SIZE_MAX;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr size_t kMapAtLeast = SIZE_MAX;
#else
constexpr size_t kMapAtLeast = size_t{64} << 10;
#endif
#else
constexpr size_t kMapAtLeast = size_t{64} << 10;
#endif

void* SystemAllocate(size_t bytes) {
  if (bytes < kMapAtLeast) return ::operator new(bytes, kAlign);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;  // page-aligned
}

void SystemFree(void* p, size_t bytes) {
  if (bytes < kMapAtLeast) {
    ::operator delete(p, kAlign);
  } else {
    ::munmap(p, bytes);
  }
}
}  // namespace

BufferPool::~BufferPool() { Trim(); }

void* BufferPool::Allocate(size_t bytes, int tag) {
  if (bytes == 0) bytes = 1;
  const int64_t b = static_cast<int64_t>(bytes);
  void* p = nullptr;
  Evicted evicted;
  {
    std::lock_guard<AdaptiveMutex> lock(mu_);
    SizeClass& size_class = free_[bytes];
    size_class.last_request = ++serial_;
    if (!size_class.blocks.empty()) {
      p = size_class.blocks.back();
      size_class.blocks.pop_back();
      retained_ -= b;
    } else {
      // A new block: first give back kept blocks (of other sizes, none of
      // this one is kept) that would take the footprint past the limit.
      EvictOtherSizes(bytes, live_.load(std::memory_order_relaxed) + b, &evicted);
    }
    // Last: it erases stale entries of free_ (never this size, just asked for).
    if (serial_ % kStaleCheckEvery == 0) EvictStale(&evicted);
    const int64_t now = live_.load(std::memory_order_relaxed) + b;
    live_.store(now, std::memory_order_relaxed);
    total_.fetch_add(b, std::memory_order_relaxed);
    if (tag >= 0 && tag < static_cast<int>(tags_.size())) {
      tags_[tag].allocated += b;
      tags_[tag].live += b;
    }
    if (now > peak_.load(std::memory_order_relaxed)) {
      peak_.store(now, std::memory_order_relaxed);
      OnPeak();
    }
  }
  for (auto [q, n] : evicted) SystemFree(q, n);
  if (p == nullptr) p = SystemAllocate(bytes);
  return p;
}

void BufferPool::EvictOtherSizes(size_t bytes, int64_t live, Evicted* out) {
  const int64_t limit = Limit();
  for (auto it = free_.begin(); live + retained_ > limit && it != free_.end(); ++it) {
    if (it->first == bytes) continue;
    std::vector<void*>& blocks = it->second.blocks;
    while (!blocks.empty() && live + retained_ > limit) {
      out->push_back({blocks.back(), it->first});
      blocks.pop_back();
      retained_ -= static_cast<int64_t>(it->first);
    }
  }
}

void BufferPool::EvictStale(Evicted* out) {
  for (auto it = free_.begin(); it != free_.end();) {
    SizeClass& c = it->second;
    if (serial_ - c.last_request <= kStaleAllocations) {
      ++it;
      continue;
    }
    for (void* p : c.blocks) {
      out->push_back({p, it->first});
      retained_ -= static_cast<int64_t>(it->first);
    }
    free_.erase(it++);
  }
}

void BufferPool::OnPeak() {
  for (TagFigures& t : tags_) t.live_at_peak = t.live;
  if (probe_) probe_at_peak_ = probe_();
}

void BufferPool::Free(void* p, size_t bytes, int tag) {
  if (bytes == 0) bytes = 1;
  const int64_t b = static_cast<int64_t>(bytes);
  Evicted evicted;
  {
    std::lock_guard<AdaptiveMutex> lock(mu_);
    const int64_t live = live_.load(std::memory_order_relaxed) - b;
    live_.store(live, std::memory_order_relaxed);
    if (tag >= 0 && tag < static_cast<int>(tags_.size())) tags_[tag].live -= b;
    // Keep this block (its size is in use now) rather than blocks of sizes
    // that may never come back (the border tiles of an earlier row).
    if (live + b <= Limit()) EvictOtherSizes(bytes, live + b, &evicted);
    if (live + retained_ + b <= Limit()) {
      free_[bytes].blocks.push_back(p);
      retained_ += b;
      p = nullptr;
    }
  }
  for (auto [q, n] : evicted) SystemFree(q, n);
  if (p != nullptr) SystemFree(p, bytes);
}

void BufferPool::ResetPeak(int num_tags, std::function<int64_t()> probe) {
  std::lock_guard<AdaptiveMutex> lock(mu_);
  peak_.store(live_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  tags_.assign(num_tags, TagFigures{});
  probe_ = std::move(probe);
  probe_at_peak_ = probe_ ? probe_() : 0;
}

std::vector<BufferPool::TagFigures> BufferPool::tag_figures() const {
  std::lock_guard<AdaptiveMutex> lock(mu_);
  return tags_;
}

int64_t BufferPool::probe_at_peak() const {
  std::lock_guard<AdaptiveMutex> lock(mu_);
  return probe_at_peak_;
}

int64_t BufferPool::retained_bytes() const {
  std::lock_guard<AdaptiveMutex> lock(mu_);
  return retained_;
}

void BufferPool::set_retain_limit(int64_t limit, bool headroom) {
  std::lock_guard<AdaptiveMutex> lock(mu_);
  retain_limit_ = limit;
  headroom_ = headroom;
}

void BufferPool::Trim() {
  std::lock_guard<AdaptiveMutex> lock(mu_);
  for (auto& [size, c] : free_) {
    for (void* p : c.blocks) SystemFree(p, size);
  }
  free_.clear();
  retained_ = 0;
}

namespace {
constexpr unsigned char kGuardByte = 0xA5;
}  // namespace

PooledBuffer::PooledBuffer(BufferPool* pool, PixelType type, int bands, const Window& window, int tag,
                           size_t guard)
    : pool_(pool), tag_(tag), type_(type), bands_(bands), window_(window),
      bytes_(static_cast<size_t>(window.Pixels()) * bands * PixelSize(type)), guard_(guard),
      data_(pool->Allocate(bytes_ + guard_, tag)) {
  if (guard_ > 0) std::memset(static_cast<unsigned char*>(data_) + bytes_, kGuardByte, guard_);
}

bool PooledBuffer::GuardIntact() const {
  // memcmp against a pattern block: checked at the end of every Map task.
  static constexpr size_t kChunk = 4096;
  static const auto* pattern = [] {
    auto* p = new unsigned char[kChunk];
    std::memset(p, kGuardByte, kChunk);
    return p;
  }();
  const unsigned char* g = static_cast<const unsigned char*>(data_) + bytes_;
  for (size_t done = 0; done < guard_; done += kChunk) {
    if (std::memcmp(g + done, pattern, std::min(kChunk, guard_ - done)) != 0) return false;
  }
  return true;
}

PooledBuffer::~PooledBuffer() { pool_->Free(data_, bytes_ + guard_, tag_); }

}  // namespace eoscale
