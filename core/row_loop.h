// EOSCALE_ROW_LOOP: put before a function that loops over a row of pixels to
// have it compiled twice, for x86-64's baseline (SSE2, 4 floats a
// vector) and for AVX2 (8), the dynamic loader picking the one the CPU runs
// (GCC's function multiversioning: `target_clones`, resolved once through
// an ifunc; nothing process-wide is set). AVX2 alone enables no FMA, so a
// loop of IEEE operations gives the same bits in both versions. A filter's
// per-pixel loop is where this pays: the water mask's NDWI and threshold
// loops, 32 % of its CPU at 10980² in SSE2, took about 0.07 CPU-s less
// (docs/benchmarks.md).
//
// Empty elsewhere (Clang 14 does not multiversion templates; other
// architectures; or defined EOSCALE_NO_TARGET_CLONES, e.g. for a sanitizer
// or a profiler that needs one version).
#ifndef EOSCALE_CORE_ROW_LOOP_H_
#define EOSCALE_CORE_ROW_LOOP_H_

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(EOSCALE_NO_TARGET_CLONES)
#define EOSCALE_ROW_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define EOSCALE_ROW_LOOP
#endif

#endif  // EOSCALE_CORE_ROW_LOOP_H_
