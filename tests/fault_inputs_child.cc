// A child process for tests/fault_inputs_test.cc: what must not crash or run
// out of descriptors is tried in a process of its own.
//
//   eoscale_inputs_child replace IN REPLACEMENT OUT [--workers N] [--tile N]
//       opens IN, renames REPLACEMENT over IN, then runs IN -> copy -> OUT.
//   eoscale_inputs_child sum OUT_TYPE_IGNORED N PREFIX [--workers N] [--tile N] [--nofile N]
//       sets RLIMIT_NOFILE to N (soft and hard) first, opens PREFIX0.tif ..
//       PREFIX<N-1>.tif, sums them pixel by pixel into an i32 image (one Map
//       of N inputs), reads it whole and prints "fnv HEX" of its bytes.
//
// Prints "status CODE MESSAGE" last (CODE: absl::StatusCode as an int) and
// exits 0 when the run succeeded, 3 when it failed, 2 on bad arguments.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: eoscale_inputs_child replace IN REPLACEMENT OUT [--workers N] [--tile N]\n"
               "       eoscale_inputs_child sum - N PREFIX [--workers N] [--tile N] [--nofile N]\n");
  return 2;
}

struct Options {
  int workers = 2;
  int tile = 32;
  int nofile = 0;
};

absl::StatusOr<std::unique_ptr<eoscale::Context>> MakeContext(const Options& o) {
  eoscale::ContextOptions c;
  c.workers = o.workers;
  c.tiling.tile_size = o.tile;
  return eoscale::Context::Create(c);
}

absl::Status Replace(const std::string& in, const std::string& replacement, const std::string& out,
                     const Options& o) {
  absl::StatusOr<std::unique_ptr<eoscale::Context>> ctx = MakeContext(o);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<eoscale::Image> src = (*ctx)->Open(in);
  if (!src.ok()) return src.status();
  eoscale::MapFilter copy;
  copy.name = "copy";
  copy.fn = [](const eoscale::MapTile& t) -> absl::Status {
    eoscale::CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<eoscale::Image>> m = (*ctx)->Map({*src}, copy);
  if (!m.ok()) return m.status();
  if (absl::Status s = (*ctx)->Write((*m)[0], out); !s.ok()) return s;
  if (std::rename(replacement.c_str(), in.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename failed: ", std::strerror(errno)));
  }
  return (*ctx)->Run();
}

absl::Status Sum(int n, const std::string& prefix, const Options& o) {
  absl::StatusOr<std::unique_ptr<eoscale::Context>> ctx = MakeContext(o);
  if (!ctx.ok()) return ctx.status();
  std::vector<eoscale::Image> inputs;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<eoscale::Image> src = (*ctx)->Open(absl::StrCat(prefix, i, ".tif"));
    if (!src.ok()) return src.status();
    inputs.push_back(*src);
  }
  eoscale::MapFilter sum;
  sum.name = "sum";
  sum.profiles = [](absl::Span<const eoscale::Profile> in) -> absl::StatusOr<std::vector<eoscale::Profile>> {
    eoscale::Profile p = in[0];
    p.type = eoscale::PixelType::kI32;
    return std::vector<eoscale::Profile>{p};
  };
  sum.fn = [](const eoscale::MapTile& t) -> absl::Status {
    const eoscale::TypedView<int32_t> out = t.outputs[0].As<int32_t>();
    out.Fill(0);
    for (const eoscale::ConstView& in : t.inputs) {
      const eoscale::ConstTypedView<uint8_t> v = in.Sub(t.tile.window).As<uint8_t>();
      for (int b = 0; b < out.bands(); ++b) {
        for (int y = 0; y < out.rows(); ++y) {
          for (int x = 0; x < out.cols(); ++x) out(b, y, x) += v(b, y, x);
        }
      }
    }
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<eoscale::Image>> m = (*ctx)->Map(inputs, sum);
  if (!m.ok()) return m.status();
  absl::StatusOr<eoscale::Array> a = (*ctx)->ReadAll((*m)[0]);
  if (!a.ok()) return a.status();
  uint64_t h = 1469598103934665603ull;
  const auto* bytes = static_cast<const unsigned char*>(a->data());
  for (size_t i = 0; i < a->bytes(); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  std::printf("fnv %llx\n", static_cast<unsigned long long>(h));
  return absl::OkStatus();
}

}  // namespace

// ThreadSanitizer: GCC says so with __SANITIZE_THREAD__, clang (the CI's
// TSan build) with __has_feature.
#if defined(__SANITIZE_THREAD__)
constexpr unsigned kHangGuardSeconds = 280;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr unsigned kHangGuardSeconds = 280;
#else
constexpr unsigned kHangGuardSeconds = 120;
#endif
#else
constexpr unsigned kHangGuardSeconds = 120;
#endif

int main(int argc, char** argv) {
  if (argc < 5) return Usage();
  // A child whose heap was corrupted may hang instead of dying. Under
  // ThreadSanitizer the 500-input run (4 workers on 2 cores, every read
  // instrumented) took 121 s once in CI: the guard leaves it ctest's 300 s.
  ::alarm(kHangGuardSeconds);
  const std::string mode = argv[1];
  Options o;
  for (int i = 5; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 < argc && (a == "--workers" || a == "--tile" || a == "--nofile")) {
      const int v = std::atoi(argv[++i]);
      (a == "--workers" ? o.workers : a == "--tile" ? o.tile : o.nofile) = v;
    } else {
      return Usage();
    }
  }
  if (o.nofile > 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(o.nofile);
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      std::perror("setrlimit");
      return 2;
    }
  }
  absl::Status st;
  if (mode == "replace") {
    st = Replace(argv[2], argv[3], argv[4], o);
  } else if (mode == "sum") {
    st = Sum(std::atoi(argv[3]), argv[4], o);
  } else {
    return Usage();
  }
  std::printf("status %d %s\n", static_cast<int>(st.code()), std::string(st.message()).c_str());
  std::fflush(stdout);
  return st.ok() ? 0 : 3;
}
