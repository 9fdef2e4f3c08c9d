#include "eoscale/io/handle_pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace eoscale::io::internal {

HandlePool::~HandlePool() { CloseIdle(); }

HandlePool& HandlePool::Global() {
  static HandlePool* const pool = new HandlePool;  // never destroyed
  return *pool;
}

int64_t HandlePool::CapFromDescriptorLimit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return kMaxCap;
  return std::clamp(static_cast<int64_t>(rl.rlim_cur / 2), kMinCap, kMaxCap);
}

HandlePool::Key HandlePool::NewKey() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_key_++;
}

void HandlePool::RefreshCapLocked() {
  cap_ = cap_for_testing_ > 0 ? cap_for_testing_ : CapFromDescriptorLimit();
}

void HandlePool::EraseIdleLocked(LruList::iterator it) {
  auto by_key = idle_by_key_.find(it->key);
  std::vector<LruList::iterator>& v = by_key->second;
  v.erase(std::find(v.begin(), v.end(), it));
  if (v.empty()) idle_by_key_.erase(by_key);
  lru_.erase(it);
}

void HandlePool::TakeLocked(LruList::iterator it, std::vector<GDALDatasetH>* handles, std::vector<int>* fds) {
  if (it->handle != nullptr) {
    handles->push_back(it->handle);
  } else {
    fds->push_back(it->fd);
  }
  EraseIdleLocked(it);
}

void HandlePool::EvictLocked(int64_t limit, std::vector<GDALDatasetH>* handles, std::vector<int>* fds) {
  while (!lru_.empty() && borrowed_ + static_cast<int64_t>(lru_.size()) > limit) TakeLocked(lru_.begin(), handles, fds);
}

void HandlePool::CloseAll(const std::vector<GDALDatasetH>& handles, const std::vector<int>& fds) {
  for (GDALDatasetH h : handles) GDALClose(h);
  for (int fd : fds) ::close(fd);
}

GDALDatasetH HandlePool::Borrow(Key key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto by_key = idle_by_key_.find(key);
  if (by_key == idle_by_key_.end()) return nullptr;
  const LruList::iterator it = by_key->second.back();
  GDALDatasetH h = it->handle;
  if (h == nullptr) return nullptr;  // a key of descriptors
  EraseIdleLocked(it);
  ++borrowed_;
  return h;
}

int HandlePool::BorrowFd(Key key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto by_key = idle_by_key_.find(key);
  if (by_key == idle_by_key_.end()) return -1;
  const LruList::iterator it = by_key->second.back();
  if (it->handle != nullptr) return -1;  // a key of handles
  const int fd = it->fd;
  EraseIdleLocked(it);
  ++borrowed_;
  return fd;
}

void HandlePool::ReserveOpen() {
  std::vector<GDALDatasetH> closing;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RefreshCapLocked();
    EvictLocked(cap_ - 1, &closing, &fds);  // room for the one about to open
    ++borrowed_;
  }
  CloseAll(closing, fds);
}

void HandlePool::CancelOpen() {
  std::lock_guard<std::mutex> lock(mu_);
  --borrowed_;
}

void HandlePool::Return(Key key, GDALDatasetH h) {
  std::vector<GDALDatasetH> closing;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --borrowed_;
    lru_.push_back({key, h});
    idle_by_key_[key].push_back(std::prev(lru_.end()));
    EvictLocked(cap_, &closing, &fds);
  }
  CloseAll(closing, fds);
}

void HandlePool::ReturnFd(Key key, int fd) {
  std::vector<GDALDatasetH> closing;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --borrowed_;
    lru_.push_back({key, nullptr, fd});
    idle_by_key_[key].push_back(std::prev(lru_.end()));
    EvictLocked(cap_, &closing, &fds);
  }
  CloseAll(closing, fds);
}

void HandlePool::Discard(GDALDatasetH h) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --borrowed_;
  }
  CloseAll({h});
}

void HandlePool::DiscardFd(int fd) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --borrowed_;
  }
  CloseAll({}, {fd});
}

void HandlePool::Drop(Key key) {
  std::vector<GDALDatasetH> closing;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto by_key = idle_by_key_.find(key);
    if (by_key == idle_by_key_.end()) return;
    const std::vector<LruList::iterator> its = by_key->second;
    for (LruList::iterator it : its) TakeLocked(it, &closing, &fds);
  }
  CloseAll(closing, fds);
}

int HandlePool::CloseIdle() {
  std::vector<GDALDatasetH> closing;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Idle& i : lru_) {
      if (i.handle != nullptr) {
        closing.push_back(i.handle);
      } else {
        fds.push_back(i.fd);
      }
    }
    lru_.clear();
    idle_by_key_.clear();
  }
  CloseAll(closing, fds);
  return static_cast<int>(closing.size() + fds.size());
}

int64_t HandlePool::open_handles() const {
  std::lock_guard<std::mutex> lock(mu_);
  return borrowed_ + static_cast<int64_t>(lru_.size());
}

int64_t HandlePool::idle_handles() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(lru_.size());
}

int64_t HandlePool::cap() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cap_;
}

void HandlePool::SetCapForTesting(int64_t cap) {
  std::vector<GDALDatasetH> closing;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cap_for_testing_ = cap;
    RefreshCapLocked();
    EvictLocked(cap_, &closing, &fds);
  }
  CloseAll(closing, fds);
}

}  // namespace eoscale::io::internal
