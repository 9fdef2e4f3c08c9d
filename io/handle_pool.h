// Internal to io/: the process's pool of open GDAL dataset handles, shared by
// every GdalSource. Not installed.
//
// A GDAL handle is not thread-safe, so a read borrows a handle of its source
// for the duration of one call and gives it back. Idle handles stay open for
// the next read (opening a GeoTIFF costs a few hundred microseconds), but not
// without a bound: a run over 500 inputs with 4 workers would otherwise keep
// up to 2500 files open and fail under the usual `ulimit -n` of 1024. When
// more handles are open than the cap, the least recently used idle handles
// (of any source) are closed. Borrowed handles are never closed by the pool,
// so the cap is exceeded only while more reads than the cap are in flight:
// the pool never makes a reader wait.
#ifndef EOSCALE_IO_HANDLE_POOL_H_
#define EOSCALE_IO_HANDLE_POOL_H_

#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "gdal.h"

namespace eoscale::io::internal {

// Thread-safe. One instance per process (Global()); tests may make their own.
class HandlePool {
 public:
  // Identifies the handles of one source (one path and band selection).
  using Key = uint64_t;

  HandlePool() = default;
  // Closes every idle handle. REQUIRES: no handle is borrowed.
  ~HandlePool();
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;

  // The process's pool. Never destroyed (sources may outlive static
  // destructors' order).
  static HandlePool& Global();

  // A key no other source has.
  Key NewKey();

  // The most recently used idle handle of `key`, now borrowed by the caller;
  // nullptr when `key` has none (the caller then opens one, after
  // ReserveOpen).
  GDALDatasetH Borrow(Key key);
  // Counts a handle the caller is about to open as borrowed, and first
  // closes least recently used idle handles until the open ones fit the cap.
  // Balance with Return (the open succeeded) or CancelOpen (it failed).
  void ReserveOpen();
  void CancelOpen();
  // Gives back a borrowed (or newly opened) handle of `key`: it becomes idle,
  // the most recently used; idle handles above the cap are closed.
  void Return(Key key, GDALDatasetH h);
  // Closes a borrowed handle instead of returning it (after a failed read).
  void Discard(GDALDatasetH h);
  // Descriptors of a file a source reads without GDAL (raw_tiff.h), pooled
  // like handles under a key of their own (a key holds handles or
  // descriptors, not both): BorrowFd gives an idle one of `key` (-1 when
  // none: the caller opens one after ReserveOpen, and gives it with
  // ReturnFd); ReturnFd makes it idle, closed when the least recently used
  // entry must go; DiscardFd closes a borrowed one. Each counts as one open
  // file against the cap, as a handle does.
  int BorrowFd(Key key);
  void ReturnFd(Key key, int fd);
  void DiscardFd(int fd);
  // Closes every idle handle of `key` (its source is going away).
  void Drop(Key key);
  // Closes every idle handle (of all keys); returns how many. Used when
  // opening a file failed for lack of descriptors, and by tests.
  int CloseIdle();

  // Entries open (idle + borrowed handles and descriptors), idle ones, and
  // the cap now in force.
  int64_t open_handles() const;
  int64_t idle_handles() const;
  int64_t cap() const;
  // Replaces the cap derived from RLIMIT_NOFILE (0: back to it).
  void SetCapForTesting(int64_t cap);

  // The cap derived from the process's descriptor limit: half the soft
  // RLIMIT_NOFILE (the rest is left to outputs, GDAL's own files and the host
  // program), at least kMinCap, at most kMaxCap (idle handles cost memory
  // too: a GeoTIFF's directory, a VRT's sources). Half, not less: a run
  // reads every source's tile k before any source's tile k + 1, so when the
  // sources outnumber the cap the least recently used handle is always the
  // next one needed (500 inputs under `ulimit -n 1024` with a quarter: 20500
  // reopens for 32000 reads, 3x slower). A host that holds many descriptors
  // itself is still safe: an open that finds none left closes the idle
  // handles and tries again.
  static int64_t CapFromDescriptorLimit();
  static constexpr int64_t kMinCap = 8;
  static constexpr int64_t kMaxCap = 1024;

 private:
  struct Idle {
    Key key;
    GDALDatasetH handle;  // nullptr for a descriptor alone
    int fd = -1;          // that descriptor
  };
  using LruList = std::list<Idle>;  // front: least recently used

  // Re-reads the descriptor limit (a host may raise it): called on every
  // open, which costs far more than getrlimit.
  void RefreshCapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves least recently used idle entries to `handles` and `fds` while
  // more than `limit` are open.
  void EvictLocked(int64_t limit, std::vector<GDALDatasetH>* handles, std::vector<int>* fds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseIdleLocked(LruList::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves an idle entry to `handles` or `fds`, and out of the pool.
  void TakeLocked(LruList::iterator it, std::vector<GDALDatasetH>* handles, std::vector<int>* fds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // GDALClose outside the lock: closing may take time (a VRT closes its
  // sources) and must not hold other readers up.
  static void CloseAll(const std::vector<GDALDatasetH>& handles, const std::vector<int>& fds = {});

  mutable std::mutex mu_;
  Key next_key_ ABSL_GUARDED_BY(mu_) = 1;
  LruList lru_ ABSL_GUARDED_BY(mu_);
  // Idle handles of each key, most recently used last.
  std::unordered_map<Key, std::vector<LruList::iterator>> idle_by_key_ ABSL_GUARDED_BY(mu_);
  int64_t borrowed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cap_for_testing_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cap_ ABSL_GUARDED_BY(mu_) = CapFromDescriptorLimit();
};

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_HANDLE_POOL_H_
