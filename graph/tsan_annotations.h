// Happens-before annotations for ThreadSanitizer (internal; not installed).
//
// The engine hands work between threads through oneTBB's flow graph. oneTBB
// promises that everything a thread did before `try_put(m)` happens before
// the node's body runs on `m`, that the bodies of a serial node
// (concurrency 1) run one after another, and that every body happens before
// `graph::wait_for_all()` returns. Debian's libtbb is not built with TSan, so
// TSan cannot see the atomics inside libtbb that keep these promises and
// would report every hand-off as a race. These annotations state the
// promises at the exact points the engine relies on them, one sync object
// per message, so TSan still checks everything else: any access not ordered
// by one of these edges, a mutex or an atomic of ours is reported.
//
// Without TSan every function is empty and inlined away.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define EOSCALE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EOSCALE_TSAN 1
#endif
#endif

#ifdef EOSCALE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace eoscale::internal {

#ifdef EOSCALE_TSAN
inline constexpr bool kTsan = true;
// What this thread did so far happens before whatever a later
// TsanAcquire(sync) is followed by.
inline void TsanRelease(const void* sync) { __tsan_release(const_cast<void*>(sync)); }
inline void TsanAcquire(const void* sync) { __tsan_acquire(const_cast<void*>(sync)); }
// Returns p, hidden from the optimiser: loads through the result cannot be
// hoisted above a preceding TsanAcquire (a function's reads of an object it
// only reads may otherwise be moved before the call).
template <typename T>
T* TsanOpaque(T* p) {
  asm volatile("" : "+r"(p) : : "memory");
  return p;
}
#else
inline constexpr bool kTsan = false;
inline void TsanRelease(const void*) {}
inline void TsanAcquire(const void*) {}
template <typename T>
T* TsanOpaque(T* p) {
  return p;
}
#endif

}  // namespace eoscale::internal
