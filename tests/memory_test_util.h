// Helpers shared by the memory tests (memory_test.cc,
// memory_handoff_test.cc): small graphs' profiles, an order-free reduction
// and a watchdog.
#ifndef EOSCALE_TESTS_MEMORY_TEST_UTIL_H_
#define EOSCALE_TESTS_MEMORY_TEST_UTIL_H_

#include <chrono>
#include <cstdint>
#include <future>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/profile.h"
#include "eoscale/graph/filter.h"
#include "gtest/gtest.h"

namespace eoscale::memory_test {

inline constexpr int64_t kMiB = int64_t{1} << 20;

// A position-weighted sum (order-free: u64 addition wraps and commutes).
inline uint64_t Weight(int x, int y) { return 1 + (static_cast<uint64_t>(x) * 4099 + static_cast<uint64_t>(y)) % 1021; }

template <typename T>
ReduceFilter<uint64_t> WeightedSum() {
  ReduceFilter<uint64_t> r;
  r.name = "weighted_sum";
  r.map = [](const ReduceTile& t) -> absl::StatusOr<uint64_t> {
    const auto v = t.inputs[0].As<T>();
    const Window w = t.inputs[0].window();
    uint64_t s = 0;
    for (int y = 0; y < v.rows(); ++y)
      for (int x = 0; x < v.cols(); ++x) s += static_cast<uint64_t>(v(0, y, x)) * Weight(w.x + x, w.y + y);
    return s;
  };
  r.combine = [](uint64_t a, uint64_t b) { return a + b; };
  return r;
}

template <typename T>
uint64_t RefWeightedSum(const std::vector<T>& v, int w, int h) {
  uint64_t s = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) s += static_cast<uint64_t>(v[static_cast<size_t>(y) * w + x]) * Weight(x, y);
  return s;
}

inline Profile U8Profile(int w, int h) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = 1;
  p.type = PixelType::kU8;
  return p;
}

// Runs `body` on another thread; fails (instead of hanging) after `limit`.
// On timeout the future is leaked on purpose: its destructor would block.
template <typename Fn>
void WithWatchdog(std::chrono::seconds limit, Fn body) {
  auto* fut = new std::future<void>(std::async(std::launch::async, std::move(body)));
  if (fut->wait_for(limit) != std::future_status::ready) {
    FAIL() << "the run did not finish within " << limit.count() << " s (deadlock?)";
  }
  fut->get();
  delete fut;
}

}  // namespace eoscale::memory_test

#endif  // EOSCALE_TESTS_MEMORY_TEST_UTIL_H_
