#include "eoscale/core/buffer_pool.h"

#include <cstring>
#include <new>

namespace eoscale {
namespace {
constexpr std::align_val_t kAlign{64};
}  // namespace

BufferPool::~BufferPool() { Trim(); }

void* BufferPool::Allocate(size_t bytes, int tag) {
  if (bytes == 0) bytes = 1;
  const int64_t b = static_cast<int64_t>(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      retained_ -= b;
    }
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
  if (p == nullptr) p = ::operator new(bytes, kAlign);
  return p;
}

void BufferPool::OnPeak() {
  for (TagFigures& t : tags_) t.live_at_peak = t.live;
  if (probe_) probe_at_peak_ = probe_();
}

void BufferPool::Free(void* p, size_t bytes, int tag) {
  if (bytes == 0) bytes = 1;
  const int64_t b = static_cast<int64_t>(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t live = live_.load(std::memory_order_relaxed) - b;
    live_.store(live, std::memory_order_relaxed);
    if (tag >= 0 && tag < static_cast<int>(tags_.size())) tags_[tag].live -= b;
    if (live + retained_ + b <= retain_limit_) {
      free_[bytes].push_back(p);
      retained_ += b;
      return;
    }
  }
  ::operator delete(p, kAlign);
}

void BufferPool::ResetPeak(int num_tags, std::function<int64_t()> probe) {
  std::lock_guard<std::mutex> lock(mu_);
  peak_.store(live_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  tags_.assign(num_tags, TagFigures{});
  probe_ = std::move(probe);
  probe_at_peak_ = probe_ ? probe_() : 0;
}

std::vector<BufferPool::TagFigures> BufferPool::tag_figures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tags_;
}

int64_t BufferPool::probe_at_peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return probe_at_peak_;
}

int64_t BufferPool::retained_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retained_;
}

void BufferPool::set_retain_limit(int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  retain_limit_ = limit;
}

void BufferPool::Trim() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) ::operator delete(p, kAlign);
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
  const unsigned char* g = static_cast<const unsigned char*>(data_) + bytes_;
  for (size_t i = 0; i < guard_; ++i) {
    if (g[i] != kGuardByte) return false;
  }
  return true;
}

PooledBuffer::~PooledBuffer() { pool_->Free(data_, bytes_ + guard_, tag_); }

}  // namespace eoscale
