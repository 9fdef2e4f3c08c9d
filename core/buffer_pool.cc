#include "eoscale/core/buffer_pool.h"

#include <new>

namespace eoscale {
namespace {
constexpr std::align_val_t kAlign{64};
}  // namespace

BufferPool::~BufferPool() { Trim(); }

void* BufferPool::Allocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = free_.find(bytes);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      retained_ -= static_cast<int64_t>(bytes);
    }
  }
  if (p == nullptr) p = ::operator new(bytes, kAlign);
  const int64_t now = live_.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) +
                      static_cast<int64_t>(bytes);
  total_.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  int64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return p;
}

void BufferPool::Free(void* p, size_t bytes) {
  if (bytes == 0) bytes = 1;
  const int64_t live =
      live_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed) - static_cast<int64_t>(bytes);
  {
    absl::MutexLock lock(&mu_);
    if (live + retained_ + static_cast<int64_t>(bytes) <= retain_limit_) {
      free_[bytes].push_back(p);
      retained_ += static_cast<int64_t>(bytes);
      return;
    }
  }
  ::operator delete(p, kAlign);
}

int64_t BufferPool::retained_bytes() const {
  absl::MutexLock lock(&mu_);
  return retained_;
}

void BufferPool::set_retain_limit(int64_t limit) {
  absl::MutexLock lock(&mu_);
  retain_limit_ = limit;
}

void BufferPool::Trim() {
  absl::MutexLock lock(&mu_);
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) ::operator delete(p, kAlign);
  }
  free_.clear();
  retained_ = 0;
}

PooledBuffer::PooledBuffer(BufferPool* pool, PixelType type, int bands, const Window& window)
    : pool_(pool), type_(type), bands_(bands), window_(window),
      bytes_(static_cast<size_t>(window.Pixels()) * bands * PixelSize(type)),
      data_(pool->Allocate(bytes_)) {}

PooledBuffer::~PooledBuffer() { pool_->Free(data_, bytes_); }

}  // namespace eoscale
