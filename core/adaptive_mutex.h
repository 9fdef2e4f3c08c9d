#ifndef EOSCALE_CORE_ADAPTIVE_MUTEX_H_
#define EOSCALE_CORE_ADAPTIVE_MUTEX_H_

#include <mutex>

namespace eoscale {

// A std::mutex that spins a little before it sleeps: for locks held a few
// dozen nanoseconds and taken on every tile (the buffer pool, admission,
// the gatherer). A plain std::mutex sleeps in the kernel as soon as the
// other worker holds it, and the unlock then pays a futex wake: with two
// workers on 32^2 tiles of no work, that was most of a tile task's cost
// (bench/scheduling_benchmark). The spin is bounded, so a holder that was
// preempted costs a few microseconds of spinning, then a normal sleep.
// Built on std::mutex, so ThreadSanitizer sees it as one.
class AdaptiveMutex {
 public:
  void lock() {
    for (int i = 0; i < kSpins; ++i) {
      if (mu_.try_lock()) return;
      Pause();
    }
    mu_.lock();
  }
  bool try_lock() { return mu_.try_lock(); }
  void unlock() { mu_.unlock(); }

 private:
  static constexpr int kSpins = 64;
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  std::mutex mu_;
};

}  // namespace eoscale

#endif  // EOSCALE_CORE_ADAPTIVE_MUTEX_H_
