// BufferPool's recycling: blocks of the sizes in use are handed out again
// instead of going back to the system (a miss maps and zero-fills fresh
// pages: EOScale's pipeline at 10980^2 ran 2x slower when most tiles
// missed), and what it keeps never takes its footprint far past the peak of
// its live blocks.
#include "eoscale/core/buffer_pool.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace eoscale {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;

// The footprint the pool may reach through kept blocks (buffer_pool.h).
// A freed block handed out again still holds what was written into it (the
// system's fresh pages are zeroed, and may come back at the same address).
void Mark(void* p, int round) { static_cast<unsigned char*>(p)[0] = static_cast<unsigned char>(round % 255 + 1); }
bool Marked(void* p, int round) { return static_cast<unsigned char*>(p)[0] == round % 255 + 1; }

int64_t Limit(const BufferPool& pool, int64_t retain_limit) {
  const int64_t l = std::max(retain_limit, pool.peak_bytes());
  return l + l / 4;
}

TEST(BufferPoolTest, SteadyStreamAtItsPeakReusesItsBlocks) {
  BufferPool pool(/*retain_limit=*/0);
  std::vector<void*> live;
  for (int i = 0; i < 8; ++i) live.push_back(pool.Allocate(kMiB));
  // At the peak, each tile freed is followed by a tile of the same size.
  for (int i = 0; i < 100; ++i) {
    void* freed = live[i % live.size()];
    Mark(freed, i);
    pool.Free(freed, kMiB);
    void* again = pool.Allocate(kMiB);
    EXPECT_TRUE(again == freed && Marked(again, i)) << "round " << i;
    live[i % live.size()] = again;
  }
  for (void* p : live) pool.Free(p, kMiB);
  EXPECT_EQ(pool.live_bytes(), 0);
}

TEST(BufferPoolTest, StaleSizesGiveWayToTheSizeInUse) {
  const int64_t limit = 4 * kMiB;
  BufferPool pool(limit);
  // A row of border tiles of an odd size, kept after use.
  std::vector<void*> odd;
  for (int i = 0; i < 4; ++i) odd.push_back(pool.Allocate(kMiB + 4 * kKiB));
  for (void* p : odd) pool.Free(p, kMiB + 4 * kKiB);
  EXPECT_GT(pool.retained_bytes(), 0);
  // Then interior tiles at the limit: they must be recycled, the odd ones dropped.
  std::vector<void*> live;
  for (int i = 0; i < 4; ++i) live.push_back(pool.Allocate(kMiB));
  for (int i = 0; i < 50; ++i) {
    void* freed = live[i % live.size()];
    Mark(freed, i);
    pool.Free(freed, kMiB);
    void* again = pool.Allocate(kMiB);
    EXPECT_TRUE(again == freed && Marked(again, i)) << "round " << i;
    live[i % live.size()] = again;
    EXPECT_LE(pool.live_bytes() + pool.retained_bytes(), Limit(pool, limit));
  }
  for (void* p : live) pool.Free(p, kMiB);
}

// Under a limit far above what is live, blocks of a size nobody asks for
// any more (the top row's border tiles) still go back to the system once
// BufferPool::kStaleAllocations allocations have passed without a request
// for it; the size in use stays kept and recycled.
TEST(BufferPoolTest, SizesNotRequestedForLongAreGivenBack) {
  BufferPool pool(/*retain_limit=*/int64_t{1} << 30);
  constexpr size_t kOdd = 64 * kKiB + 4 * kKiB, kTile = 64 * kKiB;
  std::vector<void*> odd;
  for (int i = 0; i < 4; ++i) odd.push_back(pool.Allocate(kOdd));
  for (void* p : odd) pool.Free(p, kOdd);
  EXPECT_EQ(pool.retained_bytes(), static_cast<int64_t>(4 * kOdd));
  void* tile = pool.Allocate(kTile);
  for (uint64_t i = 0; i < BufferPool::kStaleAllocations / 2; ++i) {
    pool.Free(tile, kTile);
    tile = pool.Allocate(kTile);
  }
  EXPECT_EQ(pool.retained_bytes(), static_cast<int64_t>(4 * kOdd)) << "not stale yet";
  for (uint64_t i = 0; i < BufferPool::kStaleAllocations + BufferPool::kStaleCheckEvery; ++i) {
    pool.Free(tile, kTile);
    void* again = pool.Allocate(kTile);
    EXPECT_EQ(again, tile) << "the size in use is recycled, round " << i;
    tile = again;
  }
  EXPECT_EQ(pool.retained_bytes(), 0) << "the odd blocks went back";
  pool.Free(tile, kTile);
  EXPECT_EQ(pool.retained_bytes(), static_cast<int64_t>(kTile));
  // A size asked for again after going stale is simply allocated anew.
  void* p = pool.Allocate(kOdd);
  pool.Free(p, kOdd);
  EXPECT_EQ(pool.retained_bytes(), static_cast<int64_t>(kTile + kOdd));
}

// Without headroom (a user's budget), kept blocks never take the footprint
// past the limit itself, and the sizes in use still win over stale ones.
TEST(BufferPoolTest, WithoutHeadroomKeptBlocksStayUnderTheLimit) {
  const int64_t limit = 4 * kMiB;
  BufferPool pool(limit, /*headroom=*/false);
  std::vector<void*> odd;
  for (int i = 0; i < 2; ++i) odd.push_back(pool.Allocate(kMiB + 4 * kKiB));
  for (void* p : odd) pool.Free(p, kMiB + 4 * kKiB);
  std::vector<void*> live;
  for (int i = 0; i < 3; ++i) live.push_back(pool.Allocate(kMiB));
  for (int i = 0; i < 30; ++i) {
    void* freed = live[i % live.size()];
    Mark(freed, i);
    pool.Free(freed, kMiB);
    EXPECT_LE(pool.live_bytes() + pool.retained_bytes(), limit) << "round " << i;
    void* again = pool.Allocate(kMiB);
    EXPECT_TRUE(again == freed && Marked(again, i)) << "round " << i;
    live[i % live.size()] = again;
    EXPECT_LE(pool.live_bytes() + pool.retained_bytes(), limit) << "round " << i;
  }
  for (void* p : live) pool.Free(p, kMiB);
  EXPECT_LE(pool.retained_bytes(), limit);
}

TEST(BufferPoolTest, FootprintStaysWithinTheLimitUnderRandomTraffic) {
  const int64_t limit = 3 * kMiB;
  BufferPool pool(limit);
  std::mt19937 rng(7);
  const std::vector<size_t> sizes = {96 * kKiB, 300 * kKiB, kMiB, kMiB + 8 * kKiB, 2 * kMiB};
  std::vector<std::pair<void*, size_t>> live;
  for (int i = 0; i < 5000; ++i) {
    const bool alloc = live.empty() || (live.size() < 12 && rng() % 2 == 0);
    if (alloc) {
      const size_t n = sizes[rng() % sizes.size()];
      void* p = pool.Allocate(n);
      static_cast<unsigned char*>(p)[n - 1] = 1;  // the block is usable to its end
      live.push_back({p, n});
    } else {
      const size_t k = rng() % live.size();
      pool.Free(live[k].first, live[k].second);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    }
    // Kept blocks never take the footprint past the limit.
    if (pool.retained_bytes() > 0) {
      ASSERT_LE(pool.live_bytes() + pool.retained_bytes(), Limit(pool, limit)) << "step " << i;
    }
  }
  for (auto [p, n] : live) pool.Free(p, n);
  EXPECT_EQ(pool.live_bytes(), 0);
  pool.Trim();
  EXPECT_EQ(pool.retained_bytes(), 0);
}

}  // namespace
}  // namespace eoscale
